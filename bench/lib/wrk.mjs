// wrk as the load generator: one thread, so that on a 2-core machine the server under test keeps a core.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const hasWrk = () => spawnSync('wrk', ['--version']).error === undefined;
const aptInstall = () =>
  spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: ['ignore', 2, 2], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    .status === 0;

/** Installs the Debian package `wrk` when missing and we are root; otherwise exits with one line. */
export function ensureWrk() {
  if (hasWrk()) return;
  if (process.getuid?.() !== 0) {
    console.error('bench: wrk is not installed: run `sudo apt-get install -y wrk` (Debian package wrk) and retry');
    process.exit(1);
  }
  console.error('bench: wrk is not installed; installing it with apt-get');
  // A machine that never ran `apt-get update` has no package lists yet.
  if (!aptInstall()) {
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 2, 2] });
    aptInstall();
  }
  if (!hasWrk()) {
    console.error('bench: could not install wrk with apt-get (see above); install the Debian package wrk and retry');
    process.exit(1);
  }
}

/** One wrk run with latency percentiles; `headers` are sent on every request. */
export async function runWrk(url, { durationS, connections, headers = {} }) {
  const headerArgs = Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  const args = ['-t1', `-c${connections}`, `-d${durationS}s`, '--latency', ...headerArgs, url];
  // wrk prints its summary at the end; allow its run plus a margin before calling it hung.
  const { stdout } = await execFileAsync('wrk', args, { timeout: (durationS + 30) * 1000 });
  return parseWrk(stdout);
}

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

export function parseWrk(text) {
  const percentile = (p) => {
    const match = text.match(new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm'));
    if (!match) throw new Error(`wrk printed no ${p}% latency:\n${text}`);
    return Number(match[1]) * UNIT_MS[match[2]];
  };
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`wrk printed no Requests/sec:\n${text}`);
  return {
    rps,
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    requests: Number(text.match(/(\d+) requests in/)?.[1]),
    non2xx: Number(text.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0),
    socketErrors: text.match(/Socket errors: (.*)/)?.[1] ?? null,
  };
}
