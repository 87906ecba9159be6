// Fair share between users: a user with a huge backlog gets turns of BULK_TURN_CHUNKS chunks, so a
// small import that arrives while it drains is processed in the same pass, long before the big one
// is done, and a turn that ends mid-request loses and repeats nothing.
import { readBulkRequest } from '@books/core/bulk';
import { insertUser, queueImport, readImport } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runBulkPass } from '../src/jobs/bulk-pass.js';
import { type BulkHarness, makeBooks, startBulkHarness } from './harness.js';

let h: BulkHarness;
beforeAll(async () => {
  // Chunks of 100 books, two chunks a turn: the big import needs 90 turns.
  h = await startBulkHarness('fair-share', { BULK_CHUNK_SIZE: '100', BULK_TURN_CHUNKS: '2', BULK_CONCURRENCY: '1' });
});
afterAll(() => h?.close());

it('a 10-book import arriving while an 18,000-book import drains is processed in the same pass, within a round', async () => {
  const big = await insertUser(h.stores.db);
  const small = await insertUser(h.stores.db);
  const bigId = await queueImport(h.stores, big.id, [...makeBooks(9_000, 'BigA'), ...makeBooks(9_000, 'BigB')]);
  let smallId = '';
  let bigInsertedWhenSmallDone = -1;

  const pass = runBulkPass(h.deps);
  // The small import arrives once the big one is under way.
  for (;;) {
    const record = await readBulkRequest(h.deps.redis, h.deps.keys, big.id, bigId);
    if ((record?.inserted ?? 0) > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  smallId = await queueImport(h.stores, small.id, makeBooks(10, 'Small'));
  for (;;) {
    const record = await readBulkRequest(h.deps.redis, h.deps.keys, small.id, smallId);
    if (record?.stage === 'processed_awaiting_report') {
      bigInsertedWhenSmallDone = (await readBulkRequest(h.deps.redis, h.deps.keys, big.id, bigId))!.inserted;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const summary = await pass;

  // One pass did both; the small one waited for at most one round of the big one's turns.
  expect(summary).toMatchObject({ requests: 2, inserted: 18_010, failed: 0 });
  expect(summary.rounds).toBeGreaterThan(45);
  expect(bigInsertedWhenSmallDone).toBeGreaterThan(0);
  expect(bigInsertedWhenSmallDone).toBeLessThan(2_000);
  // Turns that ended mid-request lost and repeated nothing.
  expect(await readImport(h.stores, big.id, bigId)).toMatchObject({ stage: 'processed_awaiting_report', inserted: 18_000, failed: 0 });
  const rows = await h.deps.sql<{ count: number }[]>`select count(*)::int as count from books where user_id = ${big.id}`;
  expect(rows[0]?.count).toBe(18_000);
  expect(await readImport(h.stores, small.id, smallId)).toMatchObject({ inserted: 10 });
}, 120_000);

it('a user whose backlog outlasts a turn does not make the pass come back for users with nothing to do', async () => {
  const user = await insertUser(h.stores.db);
  await queueImport(h.stores, user.id, makeBooks(450, 'Turns'));
  // 450 books in chunks of 100, two a turn: three turns, the last finishing the request.
  expect(await runBulkPass(h.deps)).toMatchObject({ users: 1, rounds: 3, requests: 1, inserted: 450 });
});
