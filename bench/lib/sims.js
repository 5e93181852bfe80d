// Starts bench/sim-host.js (the simulators, in their own process) and talks to it over IPC.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HOST = fileURLToPath(new URL('../sim-host.js', import.meta.url));

export async function startSims(opts) {
  const child = fork(HOST, [JSON.stringify(opts)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, LOG_LEVEL: 'warn' } });
  const pending = new Map();
  let nextId = 1;
  const urls = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`simulator host exited with code ${code} before it was ready`)));
    child.on('message', (msg) => {
      if (msg.ready) resolve(msg.urls);
      else if (msg.id && pending.has(msg.id)) {
        pending.get(msg.id)(msg);
        pending.delete(msg.id);
      }
    });
  });
  child.removeAllListeners('exit');
  const ask = (cmd) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ cmd, id });
    });
  return {
    urls,
    pid: child.pid,
    stats: () => ask('stats'),
    resetGate: () => ask('gate-reset'),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.send({ cmd: 'close' });
      }),
  };
}
