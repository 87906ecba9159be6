import { createDb, type DbHandle } from '@books/core/db';
import { createRedisKeys, type RedisKeys, registerAllScripts } from '@books/core/redis';
import { createTestContext, type TestContext, type TestUser, testEnv } from '@books/testing';
import { Redis } from 'ioredis';
import { type App, type BuildOptions, buildApp } from '../src/app.js';

export interface ApiHarness {
  app: App;
  ctx: TestContext;
  close(): Promise<void>;
}

export async function startApi(label: string, env: Record<string, string> = {}, build: BuildOptions = {}): Promise<ApiHarness> {
  const ctx = await createTestContext(label, env);
  const app = await buildApp(ctx.config, { logger: false, ...build });
  await app.ready();
  return {
    app,
    ctx,
    async close() {
      await app.close();
      await ctx.cleanup();
    },
  };
}

export { signUp as signup, type TestUser } from '@books/testing';

export async function addBook(app: App, user: TestUser, book: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/books', headers: user.auth, payload: book });
  if (res.statusCode !== 201) throw new Error(`add book failed: ${res.statusCode} ${res.body}`);
  return res.json().data;
}

export interface QueueStores {
  handle: DbHandle;
  redis: Redis;
  keys: RedisKeys;
  close(): Promise<void>;
}

/** The test's database and Redis namespace, opened beside the app, to build or check queue state directly. */
export function openStores(ctx: TestContext): QueueStores {
  const handle = createDb(ctx.database.url, { max: 2 });
  const redis = new Redis(testEnv.redisUrl, { maxRetriesPerRequest: 1 });
  registerAllScripts(redis);
  return {
    handle,
    redis,
    keys: createRedisKeys(ctx.namespace.prefix),
    async close() {
      redis.disconnect();
      await handle.close();
    },
  };
}
