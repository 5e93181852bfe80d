/**
 * Values made once per key object — a connection's config, a push's context — instead of
 * once per member: parsed options, an API object with its client.
 */
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { ConnectorContext } from './types.js';

export function oncePer<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const made = new WeakMap<K, V>();
  return (key) => {
    let v = made.get(key);
    if (v === undefined) made.set(key, (v = make(key)));
    return v;
  };
}

/**
 * A connector's options, read from its connection config once: invalid ones are a
 * ConfigError naming the connection and each key.
 */
export function optionsReader<T>(kind: string, schema: z.ZodType<T>): (ctx: ConnectorContext) => T {
  const parsed = new WeakMap<object, T>();
  return (ctx) => {
    if (parsed.has(ctx.config)) return parsed.get(ctx.config)!;
    const r = schema.safeParse(ctx.config.options);
    if (!r.success) {
      const issues = r.error.issues.map((i) => `options.${i.path.join('.')}: ${i.message}`).join('; ');
      throw new ConfigError(`connection ${ctx.name} (${kind}): ${issues}`);
    }
    parsed.set(ctx.config, r.data);
    return r.data;
  };
}
