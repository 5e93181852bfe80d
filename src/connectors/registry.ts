/** The one explicit map of connector kinds. */
import type { ConnectorKind } from '../config/schema.js';
import { communityConnector } from './community/index.js';
import { convioConnector } from './convio/index.js';
import { ikanowConnector } from './ikanow/index.js';
import type { Connector } from './types.js';
import { vocdoniConnector } from './vocdoni/index.js';
import { wevoteConnector } from './wevote/index.js';

export const CONNECTORS: Record<ConnectorKind, Connector<never>> = {
  convio: convioConnector as Connector<never>,
  ikanow: ikanowConnector as Connector<never>,
  community: communityConnector as Connector<never>,
  wevote: wevoteConnector as Connector<never>,
  vocdoni: vocdoniConnector as Connector<never>,
};

export function connectorFor(kind: ConnectorKind): Connector<Record<string, unknown>> {
  return CONNECTORS[kind] as unknown as Connector<Record<string, unknown>>;
}

/**
 * Checks every configured connection against its connector: the options it accepts and
 * the credentials it needs. Fails fast with the key and what is wrong.
 */
export function checkConnections(connections: Readonly<Record<string, { kind: ConnectorKind; options: Record<string, unknown>; credentials: Record<string, string> }>>): string[] {
  const problems: string[] = [];
  for (const [name, conn] of Object.entries(connections)) {
    const connector = connectorFor(conn.kind);
    const parsed = connector.optionsSchema.safeParse(conn.options ?? {});
    if (!parsed.success) {
      for (const i of parsed.error.issues) problems.push(`connections.${name}.options${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`);
    }
    const missing = connector.credentialKeys.filter((k) => !conn.credentials?.[k]);
    if (missing.length > 0) problems.push(`connections.${name}.credentials: missing ${missing.join(', ')} (a ${conn.kind} connection needs ${connector.credentialKeys.join(', ')})`);
  }
  return problems;
}
