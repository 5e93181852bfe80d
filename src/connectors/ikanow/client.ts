/**
 * IKANOW Infinit.e client. Two ways in: an API key (sent as the `inf_token` header, so
 * it never sits in a URL) or username + password, logged in through
 * `auth/login/{user}/{sha256-base64}` for the `infinitecookie` session cookie. The
 * password itself never leaves this process: only its SHA-256 (base64) does, here and
 * in every register body. Failures come as HTTP 200 with `response.success = false`, so
 * the error decoder reads the envelope's message.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConfigError, ConnectionError, UpstreamError, type UpstreamKind } from '../../errors.js';
import { clientForConnection, notTheFormat, type DecodedError, type HttpClient, type HttpResponse, type RawResponse, type RequestCounter, type RetryPolicy } from '../../http/index.js';
import { registerSecret } from '../../log.js';
import type { ConnectorContext } from '../types.js';
import { type IkanowEnvelope, type IkanowPerson, type IkanowSetup } from './types.js';

/** SHA-256 then base64: 44 characters, the only password form IKANOW should ever see. */
export function hashPassword(plain: string): string {
  return createHash('sha256').update(plain, 'utf8').digest('base64');
}

/** A password nobody knows, for people we register (they reset it through IKANOW). */
export function randomPasswordHash(): string {
  return hashPassword(randomBytes(32).toString('hex'));
}

/** Envelope message → kind. Matching on the documented texts, loosely (case, punctuation). */
export function ikanowMessageKind(message: string): UpstreamKind {
  const m = message.toLowerCase();
  if (m.includes('not logged in') || m.includes('cookie session expired') || m.includes('must be admin') || m.includes('authentication')) {
    return m.includes('internal authentication error') ? 'other' : 'auth';
  }
  if (m.includes('already exists') || m.includes('not unique')) return 'duplicate';
  if (m.startsWith("can't find") || m.startsWith('cannot find')) return 'not_found';
  if (m.startsWith('need to specify')) return 'validation';
  if (m.startsWith('error while')) return 'server';
  return 'other';
}

function envelopeOf(json: unknown): IkanowEnvelope | undefined {
  const r = (json as { response?: { success?: unknown } } | undefined)?.response;
  return r && typeof r.success === 'boolean' ? (json as IkanowEnvelope) : undefined;
}

/**
 * IKANOW answers everything with HTTP 200 and its envelope; a 4xx without the envelope
 * is not IKANOW answering (a wrong baseUrl): a ConnectionError.
 */
export function decodeIkanowError(raw: RawResponse, connection = 'ikanow'): DecodedError | UpstreamError | undefined {
  const env = envelopeOf(raw.json);
  if (!env && raw.status >= 400 && raw.status < 500 && raw.status !== 408 && raw.status !== 429) {
    return notTheFormat(connection, raw, `HTTP ${raw.status} without an IKANOW envelope`);
  }
  if (!env || env.response.success) return undefined;
  const message = env.response.message || `${env.response.action || 'request'} failed`;
  return { kind: ikanowMessageKind(message), message };
}

type Auth = { mode: 'apiKey'; apiKey: string } | { mode: 'login'; username: string; passwordHash: string };

export function ikanowAuth(ctx: ConnectorContext): Auth {
  const c = ctx.config.credentials;
  if (c.apiKey) {
    registerSecret(c.apiKey);
    return { mode: 'apiKey', apiKey: c.apiKey };
  }
  if (c.username && c.password) {
    const passwordHash = hashPassword(c.password);
    registerSecret(c.password);
    registerSecret(passwordHash);
    registerSecret(encodeURIComponent(passwordHash));
    return { mode: 'login', username: c.username, passwordHash };
  }
  throw new ConfigError(`connections.${ctx.name}.credentials: an ikanow connection needs apiKey, or username and password`);
}

interface CallOptions {
  counter?: RequestCounter;
  signal?: AbortSignal;
  /** per-call override of the HTTP retries, e.g. `{ maxAttempts: 1 }` for a register */
  retry?: Partial<RetryPolicy>;
}

export interface IkanowApi {
  readonly http: HttpClient;
  /** one call with the envelope checked; `data` may be absent on success */
  call<T>(method: 'GET' | 'POST', path: string, opts?: CallOptions & { json?: unknown; searchParams?: Record<string, string> }): Promise<IkanowEnvelope<T>>;
  login(opts?: CallOptions): Promise<string>;
  list(opts?: CallOptions): Promise<IkanowPerson[]>;
  /** by `_id` or e-mail; undefined when IKANOW knows no such person (success with no data) */
  get(id: string, opts?: CallOptions): Promise<IkanowPerson | undefined>;
  update(setup: IkanowSetup, opts?: CallOptions): Promise<void>;
  /** registers and returns the new person (asks for `return_user=true`) */
  register(setup: IkanowSetup, opts?: CallOptions): Promise<IkanowPerson | undefined>;
}

/** session cookies, one per HTTP client (that is, per connection) */
const sessions = new WeakMap<HttpClient, { cookie?: string; pending?: Promise<string> }>();

function cookieFrom(res: HttpResponse): string | undefined {
  for (const line of res.headers['set-cookie'] ?? []) {
    const m = /(?:^|;\s*)infinitecookie=([^;]+)/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

export function ikanowApi(ctx: ConnectorContext): IkanowApi {
  const auth = ikanowAuth(ctx);
  const http = clientForConnection(ctx, { decodeError: (raw) => decodeIkanowError(raw, ctx.name) });
  const session = sessions.get(http) ?? {};
  sessions.set(http, session);

  async function login(opts: CallOptions = {}): Promise<string> {
    if (auth.mode !== 'login') throw new ConfigError(`connections.${ctx.name}: login needs username and password`);
    const path = `auth/login/${encodeURIComponent(auth.username)}/${encodeURIComponent(auth.passwordHash)}`;
    const res = await http.request({ method: 'GET', path, counter: opts.counter, signal: opts.signal ?? ctx.signal });
    const cookie = cookieFrom(res);
    if (!cookie) throw new ConnectionError({ connection: ctx.name, failure: 'auth', status: res.status, message: 'login answered without a session cookie' });
    return cookie;
  }

  async function cookie(opts: CallOptions): Promise<string> {
    if (session.cookie) return session.cookie;
    // concurrent pushes share one login
    session.pending ??= login(opts).finally(() => {
      session.pending = undefined;
    });
    session.cookie = await session.pending;
    return session.cookie;
  }

  async function call<T>(method: 'GET' | 'POST', path: string, opts: CallOptions & { json?: unknown; searchParams?: Record<string, string> } = {}): Promise<IkanowEnvelope<T>> {
    for (let relogin = 0; ; relogin++) {
      const headers: Record<string, string> = auth.mode === 'apiKey' ? { inf_token: auth.apiKey } : { cookie: `infinitecookie=${await cookie(opts)}` };
      try {
        const res = await http.request({ method, path, headers, json: opts.json, searchParams: opts.searchParams, counter: opts.counter, signal: opts.signal ?? ctx.signal, retry: opts.retry });
        const env = envelopeOf(res.json);
        if (!env) throw notTheFormat(ctx.name, res, `${path.split('/').slice(0, 3).join('/')}: the answer is not an IKANOW envelope`);
        return env as IkanowEnvelope<T>;
      } catch (err) {
        // a session that expired gets one fresh login; a key that is refused does not
        const expired = err instanceof UpstreamError && err.kind === 'auth' && /cookie session expired|not logged in/i.test(err.message);
        if (auth.mode !== 'login' || !expired || relogin > 0) throw err;
        session.cookie = undefined;
      }
    }
  }

  return {
    http,
    call,
    login,
    async list(opts) {
      const env = await call<IkanowPerson[] | IkanowPerson>('GET', 'social/person/list', opts);
      if (env.data === undefined || env.data === null) return [];
      return Array.isArray(env.data) ? env.data : [env.data];
    },
    async get(id, opts) {
      const env = await call<IkanowPerson>('GET', `social/person/get/${encodeURIComponent(id)}`, opts);
      return env.data && typeof env.data === 'object' ? env.data : undefined;
    },
    async update(setup, opts) {
      await call('POST', 'social/person/update', { ...opts, json: setup });
    },
    async register(setup, opts) {
      const env = await call<IkanowPerson>('POST', 'social/person/register', { ...opts, json: setup, searchParams: { return_user: 'true' } });
      return env.data && typeof env.data === 'object' ? env.data : undefined;
    },
  };
}
