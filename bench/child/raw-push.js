// Floor of the push benchmark: the same Convio `update` calls member-sync makes (one
// form POST per person, looked up by cons_id), sent by a bare node:http client with
// keep-alive and the same concurrency, no database, no mapping, no retry logic.
//   node bench/child/raw-push.js <baseUrl> <people> <seed> <concurrency>
// Prints one JSON line: {requests, failed, ms, cpuMs}.
import http from 'node:http';
import { person } from '../../dist/members/generate.js';

const [baseUrl, peopleArg, seedArg, concArg] = process.argv.slice(2);
const n = Number(peopleArg);
const seed = Number(seedArg);
const concurrency = Number(concArg);
const url = new URL(`${baseUrl}/SRConsAPI`);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

function form(p) {
  return new URLSearchParams({
    method: 'update',
    api_key: 'convio-sim-api-key',
    login_name: 'sim-admin',
    login_password: 'sim-admin-password',
    v: '1.0',
    response_format: 'json',
    cons_id: p.cons_id,
    member_id: p.member_id,
    primary_email: p.email,
    'name.first': p.first_name,
    'name.last': p.last_name,
    home_phone: p.phone,
    birth_date: p.birth_date,
    'primary_address.city': p.city,
    'primary_address.state': p.province,
    'primary_address.zip': p.postal_code,
    'primary_address.country': p.country,
    gender: p.sex,
  }).toString();
}

function post(body) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          let ok = res.statusCode === 200;
          try {
            ok &&= !('errorResponse' in JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            ok = false;
          }
          resolve(ok);
        });
      },
    );
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

const cpu0 = process.cpuUsage();
const t0 = performance.now();
let next = 0;
let failed = 0;
async function worker() {
  while (next < n) {
    const i = next++;
    if (!(await post(form(person(i, seed))))) failed++;
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ requests: n, failed, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n');
process.exit(0);
