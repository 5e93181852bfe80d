/**
 * Logging: pino JSON on stderr (pretty on a TTY). Secrets never reach a log line: known
 * secret values (registered when config is loaded) are scrubbed from every string, and
 * keys that usually hold credentials are redacted by name.
 */
import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';

/** every registered secret and each of its encoded forms, longest first */
let needles: string[] = [];
const secrets = new Set<string>();

/** Remember a secret value so that it is scrubbed, in its encoded forms too, from logs, errors and reports. */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 4 || secrets.has(value)) return;
  secrets.add(value);
  const all = new Set(needles);
  for (const form of encodedForms(value)) if (form.length >= 4) all.add(form);
  needles = [...all].sort((a, b) => b.length - a.length);
}

/**
 * The ways a secret is written where it may end up in a message: percent-encoded (upper
 * and lower case hex, as a query or form value, `encodeURI`), JSON-escaped (and with
 * non-ASCII as \u escapes), and base64 (standard and URL-safe). base64 is written at each
 * of the three byte alignments, keeping only the characters that depend on the secret
 * alone, so that it is found inside a longer encoded string (`Basic base64(user:pass)`).
 */
export function encodedForms(value: string): string[] {
  const forms = [value];
  const pct = encodeURIComponent(value);
  forms.push(pct, pct.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()), encodeURI(value), new URLSearchParams({ v: value }).toString().slice(2));
  const json = JSON.stringify(value).slice(1, -1);
  forms.push(json, json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  const bytes = Buffer.from(value, 'utf8');
  forms.push(bytes.toString('base64'), bytes.toString('base64url'));
  for (let shift = 0; shift < 3; shift++) {
    const b64 = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64').replace(/=+$/, '');
    // characters made only of the secret's bits: skip those that hold the padding bytes,
    // and a last one that would hold bits of whatever follows
    const from = Math.ceil((shift * 8) / 6);
    const to = Math.floor(((shift + bytes.length) * 8) / 6);
    const inner = b64.slice(from, to);
    if (inner.length >= 6) forms.push(inner, inner.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...new Set(forms)];
}

/** Replace every registered secret, and each of its encoded forms, in a string with `[REDACTED]`. */
export function redact(text: string): string {
  let out = text;
  for (const s of needles) {
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

/**
 * Where formatted log lines go instead of stderr while something else draws on the
 * terminal (the CLI's progress bar prints them above itself). Returns the previous sink.
 */
type LogSink = (line: string) => void;
let sink: LogSink | undefined;
export function setLogSink(next: LogSink | undefined): LogSink | undefined {
  const prev = sink;
  sink = next;
  return prev;
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
  if (process.stderr.isTTY) {
    // formatted in the same call, so that a line is written whole, where the sink says
    const format = process.env.LOG_FORMAT === 'json' ? (s: string) => s : prettyFactory({ colorize: true, ignore: 'pid,hostname' });
    return pino(options, { write: (s: string) => (sink ? sink(format(s)) : process.stderr.write(format(s))) });
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}

export const log: Logger = makeLogger();
export type { Logger };
