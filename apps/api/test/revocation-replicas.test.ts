// Two real API processes share Postgres; what one of them ends (a session, an account) the other
// refuses on its very next request — also when the replica that made the change cannot reach
// Redis, and while the other's LISTEN connection is cut (it then checks Postgres per request).
import { fileURLToPath } from 'node:url';
import {
  apiReplicas,
  createPrivateRedis,
  createTestContext,
  type PrivateRedis,
  type ApiReplica as Replica,
  requestJson,
  type TestContext,
} from '@books/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisProxy, type TcpProxy } from './cache-tcp-proxy.js';

const SERVER = fileURLToPath(new URL('../dist/server.js', import.meta.url));

let ctx: TestContext;
let redis: PrivateRedis;
let redisProxy: TcpProxy;
let pgProxy: TcpProxy;
const replicas = apiReplicas(SERVER, () => ({ ...ctx.env, REDIS_URL: redis.url }));
const startReplica = (name: string, env: Record<string, string> = {}) => replicas.start(name, env);

const call = (replica: Replica, method: string, path: string, token?: string, body?: unknown) =>
  requestJson(replica.baseUrl, method, path, { token, body });

let tag = 0;
async function signUp(replica: Replica) {
  const name = `revoke_${process.pid}_${tag++}`;
  const res = await call(replica, 'POST', '/auth/signup', undefined, {
    username: name,
    email: `${name}@example.com`,
    password: 'a long enough password',
  });
  expect(res.status).toBe(201);
  return { id: res.body.data.id as string, token: res.body.token as string, email: `${name}@example.com` };
}

async function login(replica: Replica, email: string) {
  const res = await call(replica, 'POST', '/auth/login', undefined, { email, password: 'a long enough password' });
  expect(res.status).toBe(200);
  return res.body.token as string;
}

beforeAll(async () => {
  redis = await createPrivateRedis();
  await redis.start();
  redisProxy = await createRedisProxy(redis.port);
  ctx = await createTestContext('revocation-replicas', { REDIS_URL: redis.url });
  // The proxy is plain TCP: it carries Postgres as well as Redis.
  pgProxy = await createRedisProxy(Number(new URL(ctx.env.DATABASE_URL as string).port || 5432));
}, 60_000);

afterEach(async () => {
  await replicas.killAll();
  await redisProxy.restore();
  await pgProxy.restore();
});

afterAll(async () => {
  await redisProxy?.close();
  await pgProxy?.close();
  await redis?.destroy();
  await ctx?.cleanup();
});

describe('revocation across two API processes', () => {
  it('a logout on one replica is refused by the other on its very next request', async () => {
    const [a, b] = await Promise.all([startReplica('A'), startReplica('B')]);
    const user = await signUp(a);
    for (let round = 0; round < 8; round++) {
      const token = await login(a, user.email);
      // B has the identity cached: a hit must not outlive the logout.
      expect((await call(b, 'GET', '/auth/me', token)).status).toBe(200);
      expect((await call(b, 'GET', '/auth/me', token)).status).toBe(200);
      expect((await call(a, 'POST', '/auth/logout', token)).status).toBe(204);
      const next = await call(b, 'GET', '/auth/me', token);
      expect(next.status, `round ${round}`).toBe(401);
      expect(next.body.error).toMatch(/session has ended/);
    }
  }, 90_000);

  it('an account deleted on a replica that cannot reach Redis is refused at once by the other, even by requests racing the delete', async () => {
    const a = await startReplica('A', { REDIS_URL: redisProxy.url });
    const b = await startReplica('B');
    for (let round = 0; round < 5; round++) {
      const user = await signUp(a);
      expect((await call(b, 'GET', '/auth/me', user.token)).status).toBe(200);
      await redisProxy.cut();
      // B keeps resolving the identity while A deletes the account: none of those reads may leave a
      // cached identity behind that answers after the delete.
      let deleting = true;
      const racing = (async () => {
        while (deleting) await call(b, 'GET', '/books', user.token);
      })();
      const del = await call(a, 'DELETE', '/auth/me', user.token);
      expect(del.status).toBe(204);
      const after = await Promise.all(Array.from({ length: 5 }, () => call(b, 'GET', '/auth/me', user.token)));
      deleting = false;
      await racing;
      expect(after.map((res) => res.status)).toEqual([401, 401, 401, 401, 401]);
      expect(after[0]!.body.error).toMatch(/no longer exists/);
      expect((await call(b, 'GET', '/books', user.token)).status).toBe(401);
      expect((await call(a, 'GET', '/auth/me', user.token)).status).toBe(401);
      await redisProxy.restore();
    }
  }, 90_000);

  it('a replica whose LISTEN connection is cut checks Postgres per request and still refuses a logout made meanwhile', async () => {
    const a = await startReplica('A');
    const listenUrl = new URL(ctx.env.DATABASE_URL as string);
    listenUrl.port = new URL(pgProxy.url).port;
    const b = await startReplica('B', { DATABASE_LISTEN_URL: listenUrl.toString() });
    const user = await signUp(a);
    const tokens = [await login(a, user.email), await login(a, user.email)];
    for (const token of tokens) expect((await call(b, 'GET', '/auth/me', token)).status).toBe(200);

    await pgProxy.cut();
    // Long enough for B to see its connection closed, not to reconnect (the proxy refuses).
    await new Promise((resolve) => setTimeout(resolve, 300));
    // B cannot hear this logout: only its per-request check can refuse the token.
    expect((await call(a, 'POST', '/auth/logout', tokens[0])).status).toBe(204);
    expect((await call(b, 'GET', '/auth/me', tokens[0])).status).toBe(401);
    expect((await call(b, 'GET', '/auth/me', tokens[1])).status).toBe(200);

    // Back online, B catches up from the table and refuses it from memory too.
    await pgProxy.restore();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await call(b, 'GET', '/auth/me', tokens[0])).status).toBe(401);
    expect((await call(a, 'POST', '/auth/logout', tokens[1])).status).toBe(204);
    expect((await call(b, 'GET', '/auth/me', tokens[1])).status).toBe(401);
  }, 90_000);
});
