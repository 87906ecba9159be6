// A database that stops taking writes in the middle of an import (its disk full): the chunks
// committed before stay in, and once the attempts are used up the request ends `failed` with a
// reason the user can read, waiting for the report that tells them. The report worker's
// failed-import test starts from exactly this state.
import { insertUser, queueImport, readImport } from '@books/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBulkPass } from '../src/jobs/bulk-pass.js';
import { type BulkHarness, makeBooks, startBulkHarness, titlesInDb } from './harness.js';

let h: BulkHarness;
beforeAll(async () => {
  h = await startBulkHarness('disk-full', { BULK_MAX_ATTEMPTS: '1', BULK_CHUNK_SIZE: '100' });
});
afterAll(() => h?.close());

/** From the row titled `title` on, this database answers as one whose disk is full (SQLSTATE 53100). */
async function diskFullFrom(title: string): Promise<void> {
  const sql = postgres(h.ctx.database.url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`
      CREATE FUNCTION refuse_when_full() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.title = '${title.replaceAll("'", "''")}' THEN
          RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER disk_full BEFORE INSERT ON books FOR EACH ROW EXECUTE FUNCTION refuse_when_full();`);
  } finally {
    await sql.end();
  }
}

describe('a disk that fills up during an import', () => {
  it('keeps the chunks committed before, fails the request with a readable reason, and owes its owner a report', async () => {
    const user = await insertUser(h.stores.db, 'stopped_reader');
    const books = [...makeBooks(300, 'Stopped'), { title: 'Refused on sight', author: 'A', isbn: 'not-an-isbn' }];
    // In the third chunk of 100.
    await diskFullFrom('Stopped 250');
    const requestId = await queueImport(h.stores, user.id, books);

    await runBulkPass(h.deps);

    const failed = await readImport(h.stores, user.id, requestId);
    expect(failed).toMatchObject({
      stage: 'failed',
      submitted: 301,
      inserted: 200,
      failed: 1,
      attempts: 1,
      lastError: 'the database was unavailable',
      lastErrorCode: 'DATABASE_UNAVAILABLE',
      failedAt: expect.any(String),
    });
    // The third chunk was never finished: its 100 books are neither in nor failed.
    expect(301 - failed.inserted - failed.failed).toBe(100);
    // A readable reason, not the database's own words: those are in the worker's log.
    expect(JSON.stringify(failed)).not.toMatch(/No space left|53100|127\.0\.0\.1/);
    expect(await titlesInDb(h.deps, user.id)).toEqual(
      makeBooks(200, 'Stopped')
        .map((b) => b.title)
        .sort(),
    );
    // The 100 books it did not get to are kept, as long as its record, for an administrator's re-drive.
    const items = h.deps.keys.bulkItems(user.id, requestId);
    expect((await h.deps.redis.llen(items)) - failed.nextItem).toBe(100);
    expect(await h.deps.redis.ttl(items)).toBeGreaterThan(0);
    expect(await h.deps.redis.hget(h.deps.keys.bulkStatus(user.id), 'requestIds')).toBe(requestId);
    expect(await h.deps.redis.zscore(h.deps.keys.reportPending(user.id), user.id)).not.toBeNull();
  });
});
