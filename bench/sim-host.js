// The simulators the pull and push benchmarks talk to, in a process of their own so that
// their CPU is not counted as member-sync's. Started by lib/sims.js over IPC:
//   argv: JSON {vocdoni: {people, seed}, convio: {people, seed}, gate: {perSecond, burst}}
//   sends {ready, urls}; answers {cmd:'stats'} and {cmd:'gate-reset'}.
//
// The vocdoni people are seeded in the simulator's own list order: its GET members sorts
// the whole list on every page, and an already sorted list is sorted in linear time, so
// the pages cost the simulator O(n) rather than O(n log n) (same people, same answers).
//
// The replay front caches the vocdoni simulator's GET answers (status 200) by URL and
// Authorization and serves them again from memory: the first full read measures the
// simulator, later reads measure member-sync. The simulator's answers do not change while
// nothing writes to it, so a replayed page is the page the simulator would send.
//
// The gate is a token-bucket rate limiter in front of the convio simulator (perSecond
// tokens a second, at most `burst` saved up): what a remote API that limits requests
// per second does. Over the limit it answers 429 with Retry-After: 1, and counts.
import http from 'node:http';
import { startConvioSimulator } from '../dist/connectors/convio/simulator.js';
import { startVocdoniSimulator } from '../dist/connectors/vocdoni/simulator.js';
import { person } from '../dist/members/generate.js';

const opts = JSON.parse(process.argv[2] ?? '{}');

/** the fields readMember stores, in compareMembers' order (name, surname, email, memberNumber, ...) */
function vocdoniOrder(a, b) {
  const ka = [a.first_name, a.last_name, a.email.toLowerCase(), a.member_id];
  const kb = [b.first_name, b.last_name, b.email.toLowerCase(), b.member_id];
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] < kb[i]) return -1;
    if (ka[i] > kb[i]) return 1;
  }
  return 0;
}

function people(n, seed) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = person(i, seed);
  return out;
}

function startGate(targetUrl, perSecond, burst) {
  const target = new URL(targetUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const stats = { passed: 0, limited: 0, first: 0, last: 0 };
  let tokens = burst;
  let at = performance.now();
  const server = http.createServer((req, res) => {
    const now = performance.now();
    tokens = Math.min(burst, tokens + ((now - at) * perSecond) / 1000);
    at = now;
    if (tokens < 1) {
      stats.limited++;
      req.resume();
      res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' });
      res.end('Too Many Requests');
      return;
    }
    tokens -= 1;
    if (stats.passed === 0) stats.first = now;
    stats.last = now;
    stats.passed++;
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}${target.pathname}`,
        stats,
        reset() {
          Object.assign(stats, { passed: 0, limited: 0, first: 0, last: 0 });
          tokens = burst;
          at = performance.now();
        },
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

function startReplay(targetUrl) {
  const target = new URL(targetUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const cache = new Map();
  const stats = { hits: 0, misses: 0 };
  const server = http.createServer((req, res) => {
    const key = req.method === 'GET' ? `${req.url}\n${req.headers.authorization ?? ''}` : undefined;
    const hit = key && cache.get(key);
    if (hit) {
      stats.hits++;
      req.resume();
      res.writeHead(200, hit.headers);
      res.end(hit.body);
      return;
    }
    stats.misses++;
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers = { 'content-type': r.headers['content-type'] ?? 'application/json', 'content-length': body.length };
        if (key && r.statusCode === 200) cache.set(key, { headers, body });
        res.writeHead(r.statusCode ?? 502, headers);
        res.end(body);
      });
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, stats, close: () => new Promise((r) => server.close(() => r())) }));
  });
}

const sims = {};
const urls = {};
let gate;
let replay;
if (opts.vocdoni) {
  const list = people(opts.vocdoni.people, opts.vocdoni.seed).sort(vocdoniOrder);
  sims.vocdoni = await startVocdoniSimulator({ people: list, orgAddress: opts.vocdoni.orgAddress });
  urls.vocdoni = sims.vocdoni.url;
  replay = await startReplay(sims.vocdoni.url);
  urls.vocdoniReplay = replay.url;
}
if (opts.convio) {
  sims.convio = await startConvioSimulator({ people: people(opts.convio.people, opts.convio.seed) });
  urls.convio = sims.convio.url;
  if (opts.gate) {
    gate = await startGate(sims.convio.url, opts.gate.perSecond, opts.gate.burst);
    urls.gate = gate.url;
  }
}

process.on('message', (msg) => {
  if (msg?.cmd === 'stats') {
    const requests = Object.fromEntries(Object.entries(sims).map(([k, s]) => [k, { total: s.requests.total, byRoute: { ...s.requests.byRoute } }]));
    process.send({ id: msg.id, requests, gate: gate ? { ...gate.stats } : undefined, replay: replay ? { ...replay.stats } : undefined });
  } else if (msg?.cmd === 'gate-reset') {
    gate?.reset();
    process.send({ id: msg.id, ok: true });
  } else if (msg?.cmd === 'close') {
    Promise.all([...Object.values(sims).map((s) => s.close()), gate?.close(), replay?.close()]).then(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, urls });
