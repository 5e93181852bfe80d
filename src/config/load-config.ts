/**
 * Config is loaded once, validated, frozen. Files, later ones winning key by key:
 * the package's `config/default.yaml`, `./config/local.yaml` (if present), then the file
 * named by MEMBER_SYNC_CONFIG. `${ENV_VAR}` in any string is replaced from the environment;
 * values under `credentials` are registered as secrets and never logged; one written in a
 * file as it is, not as `${ENV_VAR}`, is warned about with the file and the key.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { log, registerSecret } from '../log.js';
import { configSchema, type Config } from './schema.js';

export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

type Plain = Record<string, unknown>;
interface Layer {
  file: string;
  data: Plain;
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(a: Plain, b: Plain): Plain {
  const out: Plain = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = isPlain(v) && isPlain(out[k]) ? deepMerge(out[k] as Plain, v) : v;
  }
  return out;
}

/** credential keys that name an account rather than hold a secret */
const NOT_SECRET = /^(loginName|username|user|login|email)$/i;

function interpolate(value: unknown, file: string, keyPath: string[], env: NodeJS.ProcessEnv, warn?: (message: string) => void): unknown {
  if (typeof value === 'string') {
    const secret = keyPath.includes('credentials');
    if (secret && warn && value !== '' && !/\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(value) && !NOT_SECRET.test(keyPath[keyPath.length - 1] ?? '')) {
      // the value itself is never part of the warning
      warn(`${file}: ${keyPath.join('.')}: a secret is written in the file; write "\${VARIABLE}" and set the variable in the environment`);
    }
    const out = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) {
        throw new ConfigError(`${file}: ${keyPath.join('.')}: environment variable ${name} is not set`);
      }
      return v;
    });
    if (secret) registerSecret(out);
    return out;
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, file, [...keyPath, String(i)], env, warn));
  if (isPlain(value)) {
    const out: Plain = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, file, [...keyPath, k], env, warn);
    return out;
  }
  return value;
}

function readLayer(file: string, env: NodeJS.ProcessEnv, warn: (message: string) => void): Layer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read config file (${(err as Error).message})`);
  }
  let data: unknown;
  try {
    data = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isPlain(data)) throw new ConfigError(`${file}: the top level must be a mapping of keys`);
  return { file, data: interpolate(data, file, [], env, warn) as Plain };
}

function hasPath(data: Plain, keyPath: PropertyKey[]): boolean {
  let cur: unknown = data;
  for (const k of keyPath) {
    if (!isPlain(cur) || !(String(k) in cur)) return false;
    cur = cur[String(k)];
  }
  return true;
}

function describeIssue(issue: z.core.$ZodIssue, layers: Layer[]): string {
  const keyPath = issue.path;
  const owner = [...layers].reverse().find((l) => hasPath(l.data, keyPath.slice(0, Math.max(1, keyPath.length))));
  const file = owner?.file ?? layers[layers.length - 1]?.file ?? 'config';
  let key = keyPath.map(String).join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    key = [...keyPath.map(String), ...issue.keys].join('.');
    message = 'unknown key';
  }
  if (issue.code === 'invalid_value') message = `expected one of ${issue.values.map(String).join(', ')}`;
  return `${file}: ${key || '(top level)'}: ${message}`;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** extra files after the standard ones (tests) */
  files?: string[];
  /** inline overrides applied last (tests) */
  overrides?: Plain;
  /** where warnings go (a literal secret in a file); default: the log */
  onWarning?: (message: string) => void;
}

export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const files = [path.join(PACKAGE_ROOT, 'config', 'default.yaml')];
  const local = path.join(cwd, 'config', 'local.yaml');
  if (existsSync(local) && path.resolve(local) !== path.resolve(files[0])) files.push(local);
  if (env.MEMBER_SYNC_CONFIG) files.push(path.resolve(cwd, env.MEMBER_SYNC_CONFIG));
  files.push(...(opts.files ?? []));
  const warn = opts.onWarning ?? ((message: string) => log.warn(message));
  const layers = files.map((f) => readLayer(f, env, warn));
  if (opts.overrides) layers.push({ file: '(overrides)', data: interpolate(opts.overrides, '(overrides)', [], env) as Plain });
  const merged = layers.reduce<Plain>((acc, l) => deepMerge(acc, l.data), {});
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => describeIssue(i, layers));
    throw new ConfigError(lines.join('; '));
  }
  return deepFreeze(parsed.data);
}

function deepFreeze<T>(obj: T): Readonly<T> {
  if (isPlain(obj) || Array.isArray(obj)) {
    for (const v of Object.values(obj as object)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}
