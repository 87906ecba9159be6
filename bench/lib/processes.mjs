// Child processes for benchmarks: started on loopback ports, awaited until they answer, always stopped.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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

/**
 * Starts `node file ...args`; its output goes to our stderr so that stdout carries only results,
 * unless `stdout: 'pipe'` asks for the child's stdout (e.g. to read its log lines); `nodeArgs` go
 * before the file (flags of node itself).
 */
export function startNode(file, env, args = [], { stdout = 2, nodeArgs = [] } = {}) {
  // Several replicas of a process run side by side: each metrics listener takes a free port.
  const child = spawn(process.execPath, [...nodeArgs, file, ...args], { env: { METRICS_PORT: '0', ...env }, stdio: ['ignore', stdout, 2] });
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

/** Resident set size now and its high-water mark, in kB, from /proc; null once the process is gone. */
export function memoryKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1]);
    const rss = field('VmRSS');
    // A zombie (exited, not yet reaped) has no memory lines any more.
    return Number.isFinite(rss) ? { rss, hwm: field('VmHWM') } : null;
  } catch {
    return null;
  }
}

/**
 * Resets the kernel's high-water mark of a process's RSS (VmHWM) to its RSS now, so that a later
 * VmHWM is the peak of what follows only (Linux 4.0+); answers false where that cannot be done.
 */
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples a process every `everyMs` until `stop()`: its peak RSS, the kernel's high-water mark (which
 * also catches a peak between two samples) and its CPU seconds as last seen before it exited.
 */
export function watchProcess(pid, everyMs = 20) {
  const seen = { peakRssKb: 0, hwmKb: 0, cpuS: 0 };
  const sample = () => {
    const memory = memoryKb(pid);
    if (!memory) return;
    seen.peakRssKb = Math.max(seen.peakRssKb, memory.rss);
    seen.hwmKb = Math.max(seen.hwmKb, memory.hwm);
    seen.cpuS = cpuSeconds(pid) ?? seen.cpuS;
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return seen;
    },
  };
}

/**
 * CPU seconds used by a changing set of processes (e.g. database backends that come and go):
 * `findPids()` is asked every `findEveryMs` for new ones, each is read every `everyMs` until it exits.
 */
export function watchCpu(findPids, { everyMs = 20, findEveryMs = 100 } = {}) {
  const cpu = new Map();
  let failure;
  let finding = false;
  const find = setInterval(() => {
    if (finding) return;
    finding = true;
    findPids()
      .then((pids) => {
        for (const pid of pids) if (!cpu.has(pid)) cpu.set(pid, 0);
      })
      .catch((err) => {
        failure = err;
      })
      .finally(() => {
        finding = false;
      });
  }, findEveryMs);
  const read = setInterval(() => {
    for (const pid of cpu.keys()) cpu.set(pid, cpuSeconds(pid) ?? cpu.get(pid));
  }, everyMs);
  return {
    stop() {
      clearInterval(find);
      clearInterval(read);
      if (failure) throw failure;
      return { processes: cpu.size, cpuS: [...cpu.values()].reduce((a, b) => a + b, 0) };
    },
  };
}

/** CPU seconds the whole machine spent busy, and in total, since boot (all cores), from /proc/stat. */
export function machineCpuSeconds() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / 100, total: (busy + idle + iowait) / 100 };
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

/** SIGTERM to one child, SIGKILL if it has not exited within `timeoutMs`. */
export function stop(child, timeoutMs = 5000) {
  if (!running(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Stops every child still running. */
export async function stopAll(timeoutMs = 5000) {
  await Promise.all([...children].map((child) => stop(child, timeoutMs)));
}

// A signal skips the caller's `finally`: still take the servers down. What else is left behind is
// harmless: every Redis key the API writes has a TTL, and the next run drops the database.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGTERM');
    process.exit(130);
  });
}
