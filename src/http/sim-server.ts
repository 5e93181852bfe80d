/**
 * The loopback server every connector simulator is built on: listens on 127.0.0.1 (port
 * 0 = free port), reads the body, counts requests by route, injects faults (latency,
 * 500s, 429 + Retry-After, destroyed sockets) from a seeded sequence, then hands the
 * request to the simulator's handler. Its handle has the shape of `SimulatorHandle`
 * in connectors/types.ts (declared here structurally; http sits below connectors).
 */
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { prng } from '../members/generate.js';

export interface SimFaults {
  errorRate?: number;
  latencyMs?: number;
  rateLimitRate?: number;
  retryAfterSeconds?: number;
  resetRate?: number;
  seed?: number;
}

/** repeatable fault sequences: the same seeded generator the people generator uses */
export const seededRandom: (seed: number) => () => number = prng;

export interface SimRequest {
  method: string;
  /** path without query */
  path: string;
  url: URL;
  headers: IncomingHttpHeaders;
  /** raw body text */
  body: string;
  /** query parameters merged with a form-encoded body (body wins), first value each */
  params: Record<string, string>;
  /** JSON.parse(body), undefined when it does not parse */
  json: unknown;
}

export interface SimServerOptions {
  host?: string;
  port?: number;
  faults?: SimFaults;
  /** the key a request is counted under @defaultValue `${method} ${path}` */
  routeKey?: (req: SimRequest) => string;
  handle: (req: SimRequest, res: ServerResponse) => void | Promise<void>;
}

export interface SimServer {
  url: string;
  requests: { total: number; byRoute: Record<string, number> };
  setFaults(faults: SimFaults): void;
  close(): Promise<void>;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Send a body with a status and content type (helper for simulators). */
export function send(res: ServerResponse, status: number, body: string, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startSimServer(opts: SimServerOptions): Promise<SimServer> {
  let faults: SimFaults = { ...opts.faults };
  let random = seededRandom(faults.seed ?? 1);
  const requests = { total: 0, byRoute: {} as Record<string, number> };

  const server = http.createServer((req, res) => {
    void (async () => {
      const text = await readBody(req);
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      const params: Record<string, string> = {};
      for (const [k, v] of url.searchParams) if (!(k in params)) params[k] = v;
      const type = String(req.headers['content-type'] ?? '');
      if (type.includes('application/x-www-form-urlencoded')) {
        const seen = new Set<string>();
        for (const [k, v] of new URLSearchParams(text)) {
          if (seen.has(k)) continue;
          seen.add(k);
          params[k] = v;
        }
      }
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const simReq: SimRequest = { method: req.method ?? 'GET', path: url.pathname, url, headers: req.headers, body: text, params, json };
      const key = opts.routeKey ? opts.routeKey(simReq) : `${simReq.method} ${simReq.path}`;
      requests.total++;
      requests.byRoute[key] = (requests.byRoute[key] ?? 0) + 1;

      if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
      // always draw all three so one fault kind does not shift the others' sequence
      const [reset, limited, failed] = [random(), random(), random()];
      if (reset < (faults.resetRate ?? 0)) {
        req.socket.destroy();
        return;
      }
      if (limited < (faults.rateLimitRate ?? 0)) {
        res.setHeader('retry-after', String(faults.retryAfterSeconds ?? 1));
        send(res, 429, 'Too Many Requests', 'text/plain');
        return;
      }
      if (failed < (faults.errorRate ?? 0)) {
        send(res, 500, 'Internal Server Error', 'text/plain');
        return;
      }
      await opts.handle(simReq, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `simulator error: ${err instanceof Error ? err.message : String(err)}`, 'text/plain');
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  return {
    url: `http://${host}:${addr.port}`,
    requests,
    setFaults(next: SimFaults) {
      faults = { ...next };
      if (next.seed !== undefined) random = seededRandom(next.seed);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
