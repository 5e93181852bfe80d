/**
 * The keep-alive agents of one connection, through a proxy when the environment names one.
 * `proxy-from-env` reads HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (upper or lower case) and
 * NO_PROXY (host names, `.domain` suffixes, `host:port`, `*`) the way curl and axios do;
 * `hpagent` tunnels through the proxy with CONNECT and keeps the tunnels alive, as plain
 * agents keep sockets. Decided once per connection from its base URL: redirects are
 * followed within the same origin only, so the choice holds for every request.
 */
import http from 'node:http';
import https from 'node:https';
import { HttpProxyAgent, HttpsProxyAgent } from 'hpagent';
import { getProxyForUrl } from 'proxy-from-env';
import { registerSecret } from '../log.js';

export interface Agents {
  http: http.Agent;
  https: https.Agent;
}

/** The proxy URL without its user and password, for logs and `check`. */
export function proxyLabel(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

export function agentsFor(baseUrl: string, maxSockets: number): { agents: Agents; proxy?: string } {
  const options = { keepAlive: true, maxSockets };
  const raw = getProxyForUrl(baseUrl);
  if (!raw) return { agents: { http: new http.Agent(options), https: new https.Agent(options) } };
  const proxy = new URL(raw);
  // a proxy's password is a credential like any other
  if (proxy.password) {
    registerSecret(decodeURIComponent(proxy.password));
    registerSecret(proxy.password);
  }
  return {
    agents: { http: new HttpProxyAgent({ ...options, proxy }), https: new HttpsProxyAgent({ ...options, proxy }) },
    proxy: proxyLabel(proxy),
  };
}
