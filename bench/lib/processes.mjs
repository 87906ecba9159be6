// Child processes for benchmarks: started on loopback ports, awaited until they answer, always stopped.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const children = new Set();
const running = (child) => child.exitCode === null && child.signalCode === null;

/** A port free on 127.0.0.1 right now (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `node file ...args`; its output goes to our stderr so that stdout carries only results. */
export function startNode(file, env, args = []) {
  const child = spawn(process.execPath, [file, ...args], { env, stdio: ['ignore', 2, 2] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** CPU seconds (user + system) a process has used so far, from /proc; null where there is no /proc. */
export function cpuSeconds(pid) {
  try {
    // After the command name (which may hold spaces), utime and stime are the 12th and 13th fields, in ticks of 1/100 s.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Polls `url` until it answers 2xx; fails early if the process dies first. */
export async function waitForHttp(url, child, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!running(child)) throw new Error(`the process behind ${url} exited (${child.exitCode ?? child.signalCode}) before answering`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // Not listening yet: poll again.
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** SIGTERM to every child still running, SIGKILL to any that has not exited within `timeoutMs`. */
export async function stopAll(timeoutMs = 5000) {
  await Promise.all(
    [...children].filter(running).map(
      (child) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

// A signal skips the caller's `finally`: still take the servers down. What else is left behind is
// harmless: every Redis key the API writes has a TTL, and the next run drops the database.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGTERM');
    process.exit(130);
  });
}
