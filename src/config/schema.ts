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

/** What a push may do at a connection besides creating and updating people. */
export const pushSchema = z
  .object({
    /** delete there the members removed or erased here, by the system's own call @defaultValue false */
    deletes: z.boolean().default(false),
    /** most deletes one push makes without --allow-mass-delete @defaultValue 5% of the connection's members, at least 10 */
    maxDeletes: z.number().int().min(0).optional(),
  })
  .strict();

export const removeWhenSchema = z.union([
  z.literal('all-sources'),
  z.literal('never'),
  z.object({ any: z.array(z.string().min(1)).min(1) }).strict(),
]);

export const connectionSchema = z
  .object({
    kind: z.enum(CONNECTOR_KINDS),
    baseUrl: z.url(),
    /** values usually `${ENV_VAR}`; every value is treated as a secret */
    credentials: z.record(z.string(), z.string()).default({}),
    rateLimit: rateLimitSchema.default({ perSecond: 10, concurrency: 4 }),
    timeoutMs: z.number().int().positive().default(30_000),
    /** bytes of one answer after decompression; unset: http.maxResponseBytes */
    maxResponseBytes: z.number().int().positive().optional(),
    /** higher wins: a field set by a higher trust rank is not overwritten by a lower one */
    trust: z.number().int().default(0),
    options: z.record(z.string(), z.unknown()).default({}),
    /** unset: no deletes */
    push: pushSchema.optional(),
  })
  .strict();

export const HTTP_DEFAULTS = { maxResponseBytes: 50 * 1024 * 1024 };

export const WORKER_DEFAULTS = {
  jobsDir: './jobs',
  concurrency: 2,
  graceMs: 30_000,
  prefix: 'member_sync',
  attempts: 5,
  backoffMs: 10_000,
  lockMs: 30_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 2,
  busyDelayMs: 30_000,
  keepCompleted: 1000,
  keepFailed: 5000,
};

export const workerSchema = z
  .object({
    /** folder of job definitions (`<name>.yaml`) @defaultValue ./jobs */
    jobsDir: z.string().min(1).default(WORKER_DEFAULTS.jobsDir),
    /** jobs one worker process runs at once @defaultValue 2 */
    concurrency: z.number().int().min(1).max(64).default(WORKER_DEFAULTS.concurrency),
    /** on SIGTERM/SIGINT, how long to wait for the batches in hand @defaultValue 30000 */
    graceMs: z.number().int().min(0).default(WORKER_DEFAULTS.graceMs),
    /** Redis key prefix, or PostgreSQL schema of the queue @defaultValue member_sync */
    prefix: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lower-case letters, digits and _, starting with a letter or _ (it is also a PostgreSQL schema name)')
      .default(WORKER_DEFAULTS.prefix),
    /** tries of a job whose error is transient @defaultValue 5 */
    attempts: z.number().int().min(1).default(WORKER_DEFAULTS.attempts),
    /** first retry delay, doubled each try @defaultValue 10000 */
    backoffMs: z.number().int().min(0).default(WORKER_DEFAULTS.backoffMs),
    /** a job whose worker died is taken again about this long after @defaultValue 30000 */
    lockMs: z.number().int().min(1000).default(WORKER_DEFAULTS.lockMs),
    /** how often workers look for jobs whose worker died @defaultValue 30000 */
    stalledIntervalMs: z.number().int().min(100).default(WORKER_DEFAULTS.stalledIntervalMs),
    /** times a job may be taken again after its worker died before it fails @defaultValue 2 */
    maxStalledCount: z.number().int().min(0).default(WORKER_DEFAULTS.maxStalledCount),
    /** a job whose connection another job is working on waits this long before trying again @defaultValue 30000 */
    busyDelayMs: z.number().int().min(100).default(WORKER_DEFAULTS.busyDelayMs),
    /** finished jobs kept in the queue for inspection @defaultValue 1000 */
    keepCompleted: z.number().int().min(0).default(WORKER_DEFAULTS.keepCompleted),
    /** failed jobs kept in the queue for inspection @defaultValue 5000 */
    keepFailed: z.number().int().min(0).default(WORKER_DEFAULTS.keepFailed),
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
        /** remember rows applied to a member, so that importing them again skips matching and merging */
        seenRows: z.boolean().default(true),
      })
      .strict()
      .default({ batchSize: 2000, fileTrust: 0, seenRows: true }),
    dropFolder: z
      .object({
        path: z.string().default('./inbox'),
        stableMs: z.number().int().nonnegative().default(2000),
        /** whether `member-sync worker` watches the folder @defaultValue true */
        watch: z.boolean().default(true),
        /** CSV mapping of dropped files @defaultValue canonical */
        mapping: z.string().min(1).default('canonical'),
        /** connection dropped files are attributed to (its trust rank; external_id makes links) */
        connection: z.string().min(1).optional(),
      })
      .strict()
      .default({ path: './inbox', stableMs: 2000, watch: true, mapping: 'canonical' }),
    admin: z
      .object({
        /** port of the admin HTTP server; the server is off when unset; 0 = any free port */
        port: z.number().int().min(0).max(65535).optional(),
        /** @defaultValue 127.0.0.1 */
        host: z.string().min(1).default('127.0.0.1'),
      })
      .strict()
      .default({ host: '127.0.0.1' }),
    worker: workerSchema.default(WORKER_DEFAULTS),
    http: z
      .object({
        /** bytes of one answer, counted after decompression (a gzip bomb stops there) @defaultValue 52428800 */
        maxResponseBytes: z.number().int().positive().default(HTTP_DEFAULTS.maxResponseBytes),
      })
      .strict()
      .default(HTTP_DEFAULTS),
    lifecycle: z
      .object({
        /** when removal at the sources removes a member: all-sources, never, or { any: [connection...] } @defaultValue all-sources */
        removeWhen: removeWhenSchema.default('all-sources'),
      })
      .strict()
      .default({ removeWhen: 'all-sources' }),
    retention: z
      .object({
        /** days rejects are kept; unset: forever */
        rejectsDays: z.number().int().min(1).optional(),
        /** days resolved (or ignored) conflicts are kept; unset: forever */
        conflictsDays: z.number().int().min(1).optional(),
        /** days the change log keeps old and new values (the fact of the change stays); unset: forever */
        changeValuesDays: z.number().int().min(1).optional(),
      })
      .strict()
      .default({}),
    connections: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _'), connectionSchema)
      .default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const rw = c.lifecycle.removeWhen;
    if (typeof rw === 'object') {
      rw.any.forEach((name, i) => {
        if (!c.connections[name]) {
          const known = Object.keys(c.connections);
          ctx.addIssue({ code: 'custom', path: ['lifecycle', 'removeWhen', 'any', i], message: `unknown connection '${name}'; configured: ${known.join(', ') || 'none'}` });
        }
      });
    }
  })
  // each connection carries the cap its HTTP client applies: its own, else http.maxResponseBytes
  .transform((c) => {
    for (const conn of Object.values(c.connections)) conn.maxResponseBytes ??= c.http.maxResponseBytes;
    return c;
  });

export type Config = z.infer<typeof configSchema>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type WorkerConfig = z.infer<typeof workerSchema>;
