import { createDb, type DbHandle } from '@books/core/db';
import { createRedisKeys, type RedisClient, type RedisKeys } from '@books/core/redis';
import { type AccountMail, AccountMailSchema } from '@books/core/schemas';
import {
  createTestContext,
  createTestRedis,
  expectRunsDeployment,
  type ImportStores,
  type TestContext,
  type TestUser,
} from '@books/testing';
import Compile from 'typebox/compile';
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
  expectRunsDeployment(app.redis, Boolean(ctx.env.REDIS_CLUSTER_NODES));
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

/** Also what @books/testing's finishQueuedImport and friends take, to act as a bulk worker would. */
export interface QueueStores extends ImportStores {
  handle: DbHandle;
  redis: RedisClient;
  keys: RedisKeys;
  close(): Promise<void>;
}

/** The test's database and Redis namespace, opened beside the app, to build or check queue state directly. */
export function openStores(ctx: TestContext): QueueStores {
  const handle = createDb(ctx.database.url, { max: 2 });
  const redis = createTestRedis();
  return {
    handle,
    db: handle.db,
    redis,
    keys: createRedisKeys(ctx.namespace.prefix),
    async close() {
      redis.disconnect();
      await handle.close();
    },
  };
}

const accountMail = Compile(AccountMailSchema);

/** Every account email queued so far, oldest first; each must match AccountMailSchema, as the worker requires. */
export async function queuedAccountMails(stores: QueueStores): Promise<AccountMail[]> {
  const raw = await stores.redis.lrange(stores.keys.accountMailQueue(), 0, -1);
  return raw.map((text) => {
    const mail: unknown = JSON.parse(text);
    if (!accountMail.Check(mail)) throw new Error(`queued account mail does not match AccountMailSchema: ${text}`);
    return mail;
  });
}

/** The latest email of this kind queued for the address, waiting a little for one queued without being awaited. */
export async function latestAccountMail<K extends AccountMail['kind']>(
  stores: QueueStores,
  to: string,
  kind: K,
  timeoutMs = 2000,
): Promise<Extract<AccountMail, { kind: K }>> {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const mail = (await queuedAccountMails(stores)).filter((m) => m.to === to && m.kind === kind).at(-1);
    if (mail) return mail as Extract<AccountMail, { kind: K }>;
    if (Date.now() > deadline) throw new Error(`no ${kind} email queued for ${to}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
