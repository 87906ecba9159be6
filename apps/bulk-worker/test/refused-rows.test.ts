// Defence in depth: a queued item that got past the API's checks (an older API, another producer,
// a hand-edited queue) but holds a value Postgres refuses fails alone; the rest of its chunk, and
// of the request, goes in. Items are queued through core's as any producer would.
import { submitBulkRequest } from '@books/core/bulk';
import { insertUser, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBulkPass } from '../src/jobs/bulk-pass.js';
import { type BulkHarness, makeBooks, startBulkHarness, titlesInDb } from './harness.js';

let h: BulkHarness;
beforeAll(async () => {
  h = await startBulkHarness('refused-rows', { BULK_CHUNK_SIZE: '100', BULK_MAX_ATTEMPTS: '2' });
});
afterAll(() => h?.close());

async function queueDirectly(userId: string, books: { title: string; author: string; isbn?: string; publishedYear?: number }[]) {
  const { requestId } = await submitBulkRequest(h.deps.redis, h.deps.keys, {
    userId,
    submitted: books.length,
    valid: books.map((book, index) => ({ index, book })),
    invalid: [],
    now: new Date(),
  });
  return requestId;
}

describe('a row Postgres refuses', () => {
  it('fails that item alone, with a readable reason, and every other book of the import goes in', async () => {
    const user = await insertUser(h.stores.db);
    const books = makeBooks(300, 'Nul');
    // The reproduction: one NUL byte at index 250, chunks of 100.
    books[250] = { ...books[250]!, title: 'Bad\u0000Title' };
    // And a year no int column holds, in another chunk.
    books[42] = { ...books[42]!, publishedYear: 99_999_999_999 };
    const requestId = await queueDirectly(user.id, books);

    await runBulkPass(h.deps);

    const view = await readImport(h.stores, user.id, requestId);
    expect(view).toMatchObject({ stage: 'processed_awaiting_report', submitted: 300, inserted: 298, failed: 2, attempts: 0 });
    expect(view.failedItems).toEqual([
      { index: 42, title: 'Nul 42', author: expect.any(String), reason: 'a number is out of range' },
      { index: 250, title: 'Bad\u0000Title', author: expect.any(String), reason: expect.stringMatching(/cannot be stored/) },
    ]);
    // No Postgres wording reaches the user.
    expect(JSON.stringify(view)).not.toMatch(/invalid byte sequence|0x00|integer|out of range for/);
    const titles = await titlesInDb(h.deps, user.id);
    expect(titles).toHaveLength(298);
    expect(titles).not.toContain('Nul 42');
    expect(new Set(titles).size).toBe(298);
  });

  it('isolates several bad rows of one chunk, keeping the first of two equal ISBNs', async () => {
    const user = await insertUser(h.stores.db);
    const books = makeBooks(100, 'Many');
    for (const bad of [0, 1, 57, 99]) books[bad] = { ...books[bad]!, author: `A\u0000${bad}` };
    books[80] = { ...books[80]!, isbn: books[10]!.isbn };
    const requestId = await queueDirectly(user.id, books);

    await runBulkPass(h.deps);

    const view = await readImport(h.stores, user.id, requestId);
    expect(view).toMatchObject({ stage: 'processed_awaiting_report', inserted: 95, failed: 5 });
    expect(view.failedItems.map((item: { index: number }) => item.index)).toEqual([0, 1, 57, 80, 99]);
    expect(view.failedItems[3]!.reason).toMatch(/duplicate ISBN .*same as item 10/);
    expect(await titlesInDb(h.deps, user.id)).toHaveLength(95);
  });
});
