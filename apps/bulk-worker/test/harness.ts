// Each bulk test file's worker and datastores. Requests are queued through core's submit
// (@books/testing's queueImport, as POST /books/bulk does) and read back through core's readers:
// what the API makes of them is the API's tests' business.
import { loadBulkWorkerConfig } from '@books/core/config';
import { createTestContext, expectRunsDeployment, type ImportStores, silentLogger, type TestContext } from '@books/testing';
import { createBulkDeps } from '../src/wiring.js';

export type BulkTestDeps = ReturnType<typeof createBulkDeps>;

export interface BulkHarness {
  ctx: TestContext;
  deps: BulkTestDeps;
  /** The worker's database and Redis clients, for queueing requests and adding users. */
  stores: ImportStores;
  /** Another worker replica: its own clients, same database and namespace. */
  replica(env?: Record<string, string>): BulkTestDeps;
  close(): Promise<void>;
}

export async function startBulkHarness(label: string, env: Record<string, string> = {}): Promise<BulkHarness> {
  const ctx = await createTestContext(label, { BULK_CHUNK_SIZE: '7', ...env });
  const opened: BulkTestDeps[] = [];
  const replica = (extra: Record<string, string> = {}) => {
    const deps = createBulkDeps(loadBulkWorkerConfig({ ...ctx.env, ...extra }), silentLogger);
    opened.push(deps);
    return deps;
  };
  const deps = replica();
  expectRunsDeployment(deps.redis, Boolean(ctx.env.REDIS_CLUSTER_NODES));
  return {
    ctx,
    deps,
    stores: { db: deps.db.db, redis: deps.redis, keys: deps.keys },
    replica,
    async close() {
      await Promise.all(opened.map((deps) => deps.close()));
      await ctx.cleanup();
    },
  };
}

export async function titlesInDb(deps: BulkTestDeps, userId: string): Promise<string[]> {
  const rows = await deps.sql<{ title: string }[]>`select title from books where user_id = ${userId} order by title`;
  return rows.map((row) => row.title);
}

export { makeBooks } from '@books/testing';
