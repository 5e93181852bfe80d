/**
 * A real HTTP proxy on loopback, put between member-sync and a simulator to cause the
 * faults a simulator cannot cause itself, and to see every byte member-sync sends:
 *
 * - `hang`: the request never reaches the simulator and no answer comes (the client
 *   times out);
 * - `hang-after`: the simulator gets the request and applies it, then the answer is
 *   lost (the client times out after the change was made);
 * - `429`: answered 429 with Retry-After, the simulator never sees it;
 * - `refuse`: the connection is dropped at once (a destination that is down);
 * - `pass`: forwarded as is.
 *
 * Not a mock: member-sync's HTTP client talks to it over TCP as to any server.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyAction = 'pass' | 'hang' | 'hang-after' | '429' | 'refuse';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  action: ProxyAction;
}

export interface FaultProxy {
  url: string;
  /** every request that reached the proxy, in order */
  seen: SeenRequest[];
  /** how each one was handled */
  counts: Record<ProxyAction, number>;
  /** decides each request (n counts from 1); default: pass */
  decide: (req: { method: string; url: string; body: string; n: number }) => ProxyAction;
  /** Retry-After of the 429 answers, in seconds @defaultValue 1 */
  retryAfterSeconds: number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string, opts: { record?: boolean } = {}): Promise<FaultProxy> {
  const base = new URL(target);
  const proxy: FaultProxy = {
    url: '',
    seen: [],
    counts: { pass: 0, hang: 0, 'hang-after': 0, '429': 0, refuse: 0 },
    decide: () => 'pass',
    retryAfterSeconds: 1,
    close: async () => undefined,
  };
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const action = proxy.decide({ method: req.method ?? 'GET', url: req.url ?? '/', body: body.toString('utf8'), n: ++n });
      proxy.counts[action]++;
      if (opts.record) proxy.seen.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: body.toString('utf8'), action });
      if (action === 'refuse') return void req.socket.destroy();
      // a hung request is let go when the client gives up (or the proxy closes)
      if (action === 'hang') return;
      if (action === '429') {
        res.writeHead(429, { 'retry-after': String(proxy.retryAfterSeconds), 'content-type': 'text/plain' });
        return void res.end('Too Many Requests');
      }
      // the Host header stays the proxy's: OAuth 1.0a signatures cover the URL the client used
      const headers = { ...req.headers };
      const upstream = http.request({ hostname: base.hostname, port: base.port, method: req.method, path: req.url, headers }, (up) => {
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', () => {
          if (action === 'hang-after') return; // applied upstream; the answer never comes
          const out = Buffer.concat(parts);
          const h = { ...up.headers };
          delete h['transfer-encoding'];
          h['content-length'] = String(out.length);
          res.writeHead(up.statusCode ?? 502, h);
          res.end(out);
        });
      });
      upstream.on('error', () => req.socket.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${base.pathname.replace(/\/$/, '')}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return proxy;
}

/**
 * The fault mix of the push fault tests, from a seeded sequence: `timeouts` of the
 * requests hang (half of them after the change was applied) — the 3rd and 6th always, so
 * that every run meets both — and a burst of `burstLength` 429s with Retry-After starts
 * at the 10th request, then every `burstEvery`.
 */
export function faultMix(seed: number, opts: { timeouts: number; burstEvery: number; burstLength: number }): (req: { n: number }) => ProxyAction {
  let s = seed >>> 0 || 1;
  const random = () => {
    // xorshift32: repeatable, so a failing run can be replayed
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  return ({ n }) => {
    if (opts.burstEvery > 0 && n >= 10 && (n - 10) % opts.burstEvery < opts.burstLength) return '429';
    const r = random();
    if (n === 3) return 'hang';
    if (n === 6) return 'hang-after';
    if (r < opts.timeouts / 2) return 'hang';
    if (r < opts.timeouts) return 'hang-after';
    return 'pass';
  };
}
