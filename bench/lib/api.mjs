// The real API process for benchmarks (apps/api/dist/server.js on a loopback port) and the few calls they make.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { REDIS_URL } from './datastores.mjs';
import { freePort, startNode, waitForHttp } from './processes.mjs';

const apiServer = fileURLToPath(new URL('../../apps/api/dist/server.js', import.meta.url));

/**
 * Starts the API on `databaseUrl` and Redis namespace `prefix`; `env` adds or overrides settings.
 * Its log (stdout) goes to our stderr unless `stdout` names another destination (a file descriptor);
 * `server` runs another build's server.js (a baseline checkout) instead of this one's.
 */
export async function startApi(databaseUrl, prefix, env = {}, { stdout, server = apiServer } = {}) {
  const port = await freePort();
  // The node flags of apps/api's start script and Dockerfile.
  const child = startNode(
    server,
    {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      JWT_SECRET: randomBytes(32).toString('hex'),
      ...env,
    },
    [],
    { stdout, nodeArgs: ['--no-memory-reducer'] },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/health/live`, child);
  return { base, pid: child.pid, child };
}

export async function call(base, path, { token, method = 'GET', json, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (json || body) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body ?? (json && JSON.stringify(json)) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export async function expect(status, response, what) {
  const res = await response;
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}: ${res.text.slice(0, 300)}`);
  return res;
}

/** Signs up a fresh user through POST /auth/signup; returns its id and token. */
export async function signup(base, username) {
  const res = await expect(
    201,
    call(base, '/auth/signup', {
      method: 'POST',
      json: { username, email: `${username}@example.com`, password: 'bench-password-1' },
    }),
    'POST /auth/signup',
  );
  const { token, data } = JSON.parse(res.text);
  return { userId: data.id, token };
}
