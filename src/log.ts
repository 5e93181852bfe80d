/**
 * Logging: pino JSON on stderr (pretty on a TTY). Secrets never reach a log line: known
 * secret values (registered when config is loaded) are scrubbed from every string, and
 * keys that usually hold credentials are redacted by name.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

const secrets = new Set<string>();

/** Remember a secret value so that it is scrubbed from logs, errors and reports. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** Replace every registered secret in a string with `[REDACTED]`. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join('[REDACTED]');
  }
  // passwords in connection URLs
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)([^@\s]+)(@)/gi, '$1[REDACTED]$3');
}

const REDACT_PATHS = [
  'password',
  '*.password',
  'apiKey',
  '*.apiKey',
  'api_key',
  '*.api_key',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'credentials',
  '*.credentials',
];

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { type: value.name, message: redact(value.message), code: (value as { code?: unknown }).code };
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1);
  return out;
}

function makeLogger(): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  const options = {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    formatters: { log: (obj: Record<string, unknown>) => scrub(obj) as Record<string, unknown> },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redact(a) : a)));
      },
    },
  };
  if (process.stderr.isTTY && process.env.LOG_FORMAT !== 'json') {
    return pino(options, pretty({ destination: 2, colorize: true, sync: true, ignore: 'pid,hostname' }));
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}

export const log: Logger = makeLogger();
export type { Logger };
