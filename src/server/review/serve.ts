/** `member-sync review`: the review page alone, on loopback, for a person at their own machine. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, describeError } from '../../errors.js';
import { redact, type Logger } from '../../log.js';
import type { ReviewHandler } from './routes.js';

export interface ReviewServer {
  url: string;
  close(): Promise<void>;
}

/** Answer a review request, turning an unexpected error into a 500 that names no record (the log has the route only). */
export function serveReview(handler: ReviewHandler, req: http.IncomingMessage, res: http.ServerResponse, log: Logger): void {
  handler(req, res).catch((err) => {
    // the path names at most a conflict or member id; never the query or body
    log.error({ err: redact(describeError(err)), route: new URL(req.url ?? '/', 'http://review').pathname }, 'review request failed');
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    } else res.end();
  });
}

export async function startReviewServer(opts: { host: string; port: number; handler: ReviewHandler; log: Logger }): Promise<ReviewServer> {
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://review').pathname;
    if (p === '/') {
      req.resume();
      res.writeHead(303, { location: '/review' });
      return void res.end();
    }
    if (p !== '/review' && !p.startsWith('/review/')) {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end('not found\n');
    }
    serveReview(opts.handler, req, res, opts.log);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ConfigError(`--port: cannot listen on ${opts.host}:${opts.port} (${err.code ?? err.message})`, { cause: err })));
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/review`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
