/**
 * `member-sync check`: each connection's `check` (its connector's), run against the live
 * system — reachability, the credentials, and the rights the configured steps need — with
 * one result a connection. Nothing is changed at any remote. A failure is reported, not
 * thrown, so every connection is checked; the caller decides the exit code.
 */
import type { Config } from '../config/schema.js';
import { connectorFor } from '../connectors/registry.js';
import type { CheckNeeds } from '../connectors/types.js';
import { ConnectionError, describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { redact } from '../log.js';
import { connectionContext } from './pull.js';

export interface CheckResult {
  connection: string;
  kind: string;
  ok: boolean;
  /** what was checked for: pull, push */
  needs: Array<keyof CheckNeeds>;
  /** what was verified, or why it failed */
  detail: string;
  /** ConnectionError's failure (auth, dns, tls, format) when the connection itself failed */
  failure?: string;
  ms: number;
}

/** What a connection is used for when no job says: whatever its connector can do. */
export function capabilities(config: Readonly<Config>, name: string): CheckNeeds {
  const connector = connectorFor(config.connections[name].kind);
  return { pull: Boolean(connector.pull), push: Boolean(connector.push && connector.toRemote) };
}

export async function checkConnection(name: string, opts: { config: Readonly<Config>; log: Logger; needs?: CheckNeeds; signal?: AbortSignal }): Promise<CheckResult> {
  const ctx = connectionContext(name, opts.config, opts.log, opts.signal);
  const needs = opts.needs ?? capabilities(opts.config, name);
  const listed = (Object.keys(needs) as Array<keyof CheckNeeds>).filter((k) => needs[k]);
  const started = performance.now();
  const base = { connection: name, kind: ctx.config.kind, needs: listed };
  try {
    const detail = await connectorFor(ctx.config.kind).check(ctx, needs);
    return { ...base, ok: true, detail: redact(detail || 'ok'), ms: Math.round(performance.now() - started) };
  } catch (err) {
    const prefix = `${name}: `;
    const message = describeError(err);
    return {
      ...base,
      ok: false,
      detail: redact(message.startsWith(prefix) ? message.slice(prefix.length) : message),
      ...(err instanceof ConnectionError ? { failure: err.failure } : {}),
      ms: Math.round(performance.now() - started),
    };
  }
}

/** Checks `names` (every configured connection when empty), all at once. */
export async function checkConnections(opts: { config: Readonly<Config>; log: Logger; names?: string[]; needs?: ReadonlyMap<string, CheckNeeds>; signal?: AbortSignal }): Promise<CheckResult[]> {
  const names = opts.names && opts.names.length > 0 ? opts.names : Object.keys(opts.config.connections);
  const unknown = names.filter((n) => !opts.config.connections[n]);
  if (unknown.length > 0) {
    const known = Object.keys(opts.config.connections);
    throw new InputError(`unknown connection${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}${known.length ? `; configured: ${known.join(', ')}` : '; none is configured (see config/default.yaml)'}`);
  }
  return Promise.all(names.map((name) => checkConnection(name, { config: opts.config, log: opts.log, needs: opts.needs?.get(name), signal: opts.signal })));
}

/** One line a connection: `ok    convio-main (convio; pull, push): listUserFields, ... 42 ms`. */
export function checkLine(r: CheckResult): string {
  const what = `${r.connection} (${r.kind}${r.needs.length ? `; ${r.needs.join(', ')}` : ''})`;
  return `${r.ok ? 'ok  ' : 'FAIL'}  ${what}: ${r.detail}${r.failure ? ` [${r.failure}]` : ''} (${r.ms} ms)`;
}
