import { type App, buildApp } from '@books/api';
import { loadBulkWorkerConfig } from '@books/core/config';
import { createTestContext, silentLogger, type TestContext, type TestUser } from '@books/testing';
import { createBulkDeps } from '../src/wiring.js';

export type BulkTestDeps = ReturnType<typeof createBulkDeps>;

export interface BulkHarness {
  ctx: TestContext;
  app: App;
  deps: BulkTestDeps;
  /** Another worker replica: its own clients, same database and namespace. */
  replica(env?: Record<string, string>): BulkTestDeps;
  close(): Promise<void>;
}

export async function startBulkHarness(label: string, env: Record<string, string> = {}): Promise<BulkHarness> {
  const ctx = await createTestContext(label, { BULK_CHUNK_SIZE: '7', ...env });
  const app = await buildApp(ctx.config, { logger: false });
  await app.ready();
  const opened: BulkTestDeps[] = [];
  const replica = (extra: Record<string, string> = {}) => {
    const deps = createBulkDeps(loadBulkWorkerConfig({ ...ctx.env, ...extra }), silentLogger);
    opened.push(deps);
    return deps;
  };
  return {
    ctx,
    app,
    deps: replica(),
    replica,
    async close() {
      await app.close();
      await Promise.all(opened.map((deps) => deps.close()));
      await ctx.cleanup();
    },
  };
}

export const queueView = async (app: App, user: TestUser) =>
  (await app.inject({ method: 'GET', url: '/books/queue', headers: user.auth })).json().data;
export const requestView = async (app: App, user: TestUser, requestId: string) =>
  (await app.inject({ method: 'GET', url: `/books/bulk/${requestId}`, headers: user.auth })).json().data;

export async function titlesInDb(deps: BulkTestDeps, userId: string): Promise<string[]> {
  const rows = await deps.sql<{ title: string }[]>`select title from books where user_id = ${userId} order by title`;
  return rows.map((row) => row.title);
}

export { makeBooks } from '@books/testing';
