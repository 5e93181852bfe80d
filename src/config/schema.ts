import { z } from 'zod';

export const CONNECTOR_KINDS = ['convio', 'ikanow', 'community', 'wevote', 'vocdoni'] as const;
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number];

export const rateLimitSchema = z
  .object({
    /** requests per second; 0 = unlimited @defaultValue 10 */
    perSecond: z.number().nonnegative().default(10),
    /** requests in flight at once @defaultValue 4 */
    concurrency: z.number().int().positive().default(4),
  })
  .strict();

export const connectionSchema = z
  .object({
    kind: z.enum(CONNECTOR_KINDS),
    baseUrl: z.url(),
    /** values usually `${ENV_VAR}`; every value is treated as a secret */
    credentials: z.record(z.string(), z.string()).default({}),
    rateLimit: rateLimitSchema.default({ perSecond: 10, concurrency: 4 }),
    timeoutMs: z.number().int().positive().default(30_000),
    /** higher wins: a field set by a higher trust rank is not overwritten by a lower one */
    trust: z.number().int().default(0),
    options: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export const configSchema = z
  .object({
    matching: z
      .object({ allowDuplicateEmails: z.boolean().default(false) })
      .strict()
      .default({ allowDuplicateEmails: false }),
    normalize: z
      .object({
        /** ISO 3166 alpha-2 country used to read national phone numbers */
        defaultCountry: z.string().regex(/^[A-Z]{2}$/, 'a two-letter ISO country code such as US or ES').default('US'),
      })
      .strict()
      .default({ defaultCountry: 'US' }),
    import: z
      .object({
        /** records decided and written per transaction */
        batchSize: z.number().int().min(1).max(50_000).default(2000),
        /** trust rank of CSV files imported without --connection */
        fileTrust: z.number().int().default(0),
      })
      .strict()
      .default({ batchSize: 2000, fileTrust: 0 }),
    dropFolder: z
      .object({
        path: z.string().default('./inbox'),
        stableMs: z.number().int().nonnegative().default(2000),
      })
      .strict()
      .default({ path: './inbox', stableMs: 2000 }),
    connections: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _'), connectionSchema)
      .default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;
