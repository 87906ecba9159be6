// POST /books/bulk with a file (CSV or NDJSON): what is queued, how each bad row is reported (row as
// the user sees it, column, reason), the row limit, and that an upload cut short queues nothing.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { isbn13, signUp, type TestUser } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, openStores, type QueueStores, startApi } from './helpers.js';

const MAX_ROWS = 2500;
let h: ApiHarness;
let stores: QueueStores;
let port: number;
beforeAll(async () => {
  h = await startApi('bulk-files', { BULK_MAX_ROWS: String(MAX_ROWS), BULK_MAX_BOOKS: '60', BULK_BODY_LIMIT: '20000' });
  stores = openStores(h.ctx);
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  port = (h.app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const postFile = (user: TestUser, contentType: string, payload: string, headers: Record<string, string> = {}) =>
  h.app.inject({ method: 'POST', url: '/books/bulk', headers: { ...user.auth, 'content-type': contentType, ...headers }, payload });
const postCsv = (user: TestUser, csv: string, headers?: Record<string, string>) => postFile(user, 'text/csv', csv, headers);

/** The books queued for a request, as the bulk worker will read them. */
async function queuedItems(user: TestUser, requestId: string) {
  const raw = await stores.redis.lrange(stores.keys.bulkItems(user.id, requestId), 0, -1);
  return raw.map((entry) => JSON.parse(entry));
}
const detail = async (user: TestUser, requestId: string) =>
  (await h.app.inject({ method: 'GET', url: `/books/bulk/${requestId}`, headers: user.auth })).json().data;

/** Every key of the user's staging area (there should be none once an upload is answered). */
async function stagingKeys(user: TestUser): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await stores.redis.scan(cursor, 'MATCH', stores.keys.bulkStaging(user.id, '*'), 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** Nothing at all queued for the user: no request in the queue, the history or the global pending index. */
async function expectNothingQueued(user: TestUser) {
  expect(await stores.redis.lrange(stores.keys.bulkQueue(user.id), 0, -1)).toEqual([]);
  expect(await stores.redis.zrange(stores.keys.bulkHistory(user.id), 0, -1)).toEqual([]);
  const pending = await stores.redis.zrange(stores.keys.bulkPending(user.id), 0, -1);
  expect(pending.filter((member) => member.startsWith(`${user.id}:`))).toEqual([]);
  expect(await stagingKeys(user)).toEqual([]);
}

const csvOf = (n: number, from = 0) =>
  ['title,author', ...Array.from({ length: n }, (_, i) => `Book ${from + i},Author ${from + i}`)].join('\n');

describe('POST /books/bulk with text/csv', () => {
  it('reads a BOM, CRLF, quoted commas and newlines, empty lines and columns in any order and case; lists unknown columns', async () => {
    const user = await signUp(h.app);
    const csv = [
      '\uFEFFAuthor,NOTES,Title,ISBN,publication_date,Genre',
      'Frank Herbert,"sand, spice",Dune,978-0-441-17271-9,1965-08-01,Science fiction',
      '',
      'William Gibson,"a note',
      'on two lines",Neuromancer,,1984,',
      '   ',
      '"Le Guin, Ursula K.","""quoted"" note","The Dispossessed",,,',
      '',
    ].join('\r\n');
    const res = await postCsv(user, csv);
    expect(res.statusCode, res.body).toBe(202);
    const { data } = res.json();
    expect(data).toMatchObject({ queuedBooks: 3, invalidBooks: 0, duplicate: false, ignoredColumns: ['NOTES'] });
    expect(await queuedItems(user, data.requestId)).toEqual([
      {
        i: 0,
        r: 2,
        b: { title: 'Dune', author: 'Frank Herbert', isbn: '9780441172719', publishedYear: 1965, genre: 'Science fiction' },
      },
      // Row 4: the empty line before it is a row, the quoted newline is not.
      { i: 1, r: 4, b: { title: 'Neuromancer', author: 'William Gibson', publishedYear: 1984 } },
      { i: 2, r: 6, b: { title: 'The Dispossessed', author: 'Le Guin, Ursula K.' } },
    ]);
    expect(await detail(user, data.requestId)).toMatchObject({ stage: 'queued', submitted: 3, queued: 3, failed: 0 });
    expect(await stagingKeys(user)).toEqual([]);
    // Queued work carries no TTL, whichever way it came.
    expect(await stores.redis.ttl(stores.keys.bulkItems(user.id, data.requestId))).toBe(-1);
  });

  it('fails only the rows that are malformed or invalid, each with its row, column and reason; the rest are queued', async () => {
    const user = await signUp(h.app);
    const csv = [
      'title,author,publishedYear,isbn', // 1
      'Good one,A,2001,', // 2
      'Stray "quote,B,2002,', // 3: a quote inside an unquoted field
      'Too,many,fields,here,and more', // 4
      'Good two,C,2003,', // 5
      'Too few', // 6
      'Bad year,D,soon,', // 7
      'Bad isbn,E,,123', // 8
      '"Two\nlines",F,,', // 9-10 in a text editor, row 9 in a spreadsheet
      ',No title,,', // 10
      'Good three,G,1999,', // 11
      '"Never closed,H,,', // 12: swallows the rest of the file
      'Lost,I,,',
    ].join('\n');
    const res = await postCsv(user, csv);
    expect(res.statusCode, res.body).toBe(202);
    const { data } = res.json();
    expect(data).toMatchObject({ queuedBooks: 3, invalidBooks: 8, ignoredColumns: [] });
    expect((await queuedItems(user, data.requestId)).map((item) => [item.r, item.b.title])).toEqual([
      [2, 'Good one'],
      [5, 'Good two'],
      [11, 'Good three'],
    ]);
    const view = await detail(user, data.requestId);
    expect(view).toMatchObject({ submitted: 11, queued: 3, failed: 8, failedItemsTotal: 8 });
    const failures = view.failedItems.map((f: { row: number; column?: string; reason: string }) => [f.row, f.column ?? null, f.reason]);
    expect(failures).toEqual([
      [3, null, expect.stringMatching(/quote inside a field/)],
      [4, null, 'has 5 fields where the header has 4'],
      [6, null, 'has 1 fields where the header has 4'],
      [7, 'publishedYear', 'publishedYear must be a year such as 1965'],
      [8, 'isbn', expect.stringMatching(/isbn is not a valid ISBN/)],
      [9, 'title', expect.stringMatching(/^title must not be empty, and must be one line/)],
      [10, 'title', expect.stringMatching(/^title must not be empty/)],
      [12, null, expect.stringMatching(/never closed/)],
    ]);
    // The row as written, for failures.csv.
    expect(view.failedItems[3]).toMatchObject({ index: 5, submitted: { title: 'Bad year', author: 'D', publishedYear: 'soon', isbn: '' } });
    const failuresCsv = await h.app.inject({ method: 'GET', url: `/books/bulk/${data.requestId}/failures.csv`, headers: user.auth });
    const lines = failuresCsv.body.split('\r\n');
    // Row 4's fifth field has no header: it is echoed as "column 5".
    expect(lines[0]).toBe('row,title,author,isbn,publishedYear,genre,column 5,reason');
    expect(lines[4]).toBe('7,Bad year,D,,soon,,,publishedYear must be a year such as 1965');
    expect(await stagingKeys(user)).toEqual([]);
  });

  it.each([
    ['no author column', 'title,writer\nDune,Herbert\n', 'CSV_MISSING_COLUMNS'],
    ['a column twice', 'title,author,Title\nDune,Herbert,Dune\n', 'CSV_DUPLICATE_COLUMN'],
    ['nothing but a header', 'title,author\n\n', 'BULK_EMPTY'],
    ['an empty file', '', 'BULK_EMPTY'],
  ])('refuses a file with %s (400) and queues nothing', async (_name, csv, code) => {
    const user = await signUp(h.app);
    const res = await postCsv(user, csv);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ success: false, code });
    await expectNothingQueued(user);
  });

  it('queues a file of BULK_MAX_ROWS rows, staged in several batches, and refuses one more row with a 413 that queues nothing', async () => {
    const user = await signUp(h.app);
    const full = await postCsv(user, csvOf(MAX_ROWS));
    expect(full.statusCode, full.body).toBe(202);
    const items = await queuedItems(user, full.json().data.requestId);
    expect(items).toHaveLength(MAX_ROWS);
    expect(items.map((item) => item.i)).toEqual(Array.from({ length: MAX_ROWS }, (_, i) => i));
    expect(items.at(-1)).toEqual({
      i: MAX_ROWS - 1,
      r: MAX_ROWS + 1,
      b: { title: `Book ${MAX_ROWS - 1}`, author: `Author ${MAX_ROWS - 1}` },
    });

    const other = await signUp(h.app);
    const over = await postCsv(other, csvOf(MAX_ROWS + 1));
    expect(over.statusCode).toBe(413);
    expect(over.json()).toMatchObject({ success: false, code: 'BULK_TOO_MANY_ROWS' });
    await expectNothingQueued(other);
  });

  it('keeps the Idempotency-Key rules of a JSON submit: a repeat answers the original request and stages nothing', async () => {
    const user = await signUp(h.app);
    const first = await postCsv(user, csvOf(3), { 'idempotency-key': 'file-1' });
    const again = await postCsv(user, csvOf(1500), { 'idempotency-key': 'file-1' });
    expect(again.statusCode).toBe(202);
    expect(again.json().data).toMatchObject({ requestId: first.json().data.requestId, duplicate: true, queuedBooks: 3 });
    expect(await stores.redis.zcard(stores.keys.bulkHistory(user.id))).toBe(1);
    expect(await stagingKeys(user)).toEqual([]);
  });

  it('refuses a row longer than 64 KiB with a 413 and queues nothing (a book fits in a few kilobytes)', async () => {
    const user = await signUp(h.app);
    const res = await postCsv(user, `title,author\nFine,A\n${'x'.repeat(70_000)},B\nAlso fine,C\n`);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ success: false, code: 'CSV_ROW_TOO_LARGE', error: expect.stringMatching(/^Row 3 /) });
    await expectNothingQueued(user);
  });

  it('answers 415 for a body that is neither JSON, CSV nor NDJSON', async () => {
    const user = await signUp(h.app);
    const res = await postFile(user, 'text/plain', 'title,author\nDune,Herbert\n');
    expect(res.statusCode).toBe(415);
    await expectNothingQueued(user);
  });

  it('leaves nothing queued or staged when the client disconnects midway', async () => {
    const user = await signUp(h.app);
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/books/bulk',
      headers: { ...user.auth, 'content-type': 'text/csv', 'transfer-encoding': 'chunked' },
    });
    req.on('error', () => {});
    const answered = new Promise<number | null>((resolve) => {
      req.on('response', (res) => resolve(res.statusCode ?? null));
      req.on('close', () => resolve(null));
    });
    // More than a batch, so that something is staged before the cut.
    req.write(`${csvOf(1500)}\n`);
    await waitUntil(async () => (await stagingKeys(user)).length > 0);
    req.write('Half a row,');
    req.destroy();
    expect(await answered).toBeNull();
    await waitUntil(async () => (await stagingKeys(user)).length === 0);
    await expectNothingQueued(user);
  });
});

describe('POST /books/bulk with application/x-ndjson', () => {
  it('queues one book a line, skips empty lines, and fails a line that is not a book with its line number', async () => {
    const user = await signUp(h.app);
    const ndjson = [
      JSON.stringify({ title: 'Dune', author: 'Frank Herbert', isbn: isbn13('ndjson', 1) }),
      '',
      '{"title": "Broken", "author": ',
      JSON.stringify({ title: 'No author' }),
      '   ',
      JSON.stringify({ title: 'Neuromancer', author: 'William Gibson', publishedYear: 1984, extra: 'dropped' }),
      '[1, 2]',
    ].join('\r\n');
    const res = await postFile(user, 'application/x-ndjson', ndjson);
    expect(res.statusCode, res.body).toBe(202);
    const { data } = res.json();
    expect(data).toMatchObject({ queuedBooks: 2, invalidBooks: 3 });
    expect((await queuedItems(user, data.requestId)).map((item) => [item.i, item.r, item.b.title])).toEqual([
      [0, 1, 'Dune'],
      [3, 6, 'Neuromancer'],
    ]);
    const view = await detail(user, data.requestId);
    expect(
      view.failedItems.map((f: { index: number; row: number; column?: string; reason: string }) => [
        f.index,
        f.row,
        f.column ?? null,
        f.reason,
      ]),
    ).toEqual([
      [1, 3, null, expect.stringMatching(/^is not JSON/)],
      [2, 4, 'author', 'author is required'],
      [4, 7, null, 'must be an object with title and author'],
    ]);
    expect(view.failedItems[1].submitted).toEqual({ title: 'No author' });
  });

  it('fails a line longer than 64 KiB alone, without holding it, and reads the lines after it', async () => {
    const user = await signUp(h.app);
    const long = JSON.stringify({ title: 'x'.repeat(70_000), author: 'A' });
    const res = await postFile(user, 'application/x-ndjson', `${long}\n{"title":"After","author":"B"}\n`);
    expect(res.statusCode, res.body).toBe(202);
    const { data } = res.json();
    expect(data).toMatchObject({ queuedBooks: 1, invalidBooks: 1 });
    expect((await detail(user, data.requestId)).failedItems).toEqual([
      { index: 0, row: 1, title: null, author: null, reason: 'is longer than 65536 bytes' },
    ]);
    expect((await queuedItems(user, data.requestId))[0]).toMatchObject({ i: 1, r: 2, b: { title: 'After' } });

    // The same line arriving in small pieces is dropped as it streams.
    const body = Buffer.from(`${long}\n{"title":"After","author":"B"}\n`);
    const pieces = Array.from({ length: Math.ceil(body.length / 1024) }, (_, i) => body.subarray(i * 1024, (i + 1) * 1024));
    const streamed = await h.app.inject({
      method: 'POST',
      url: '/books/bulk',
      headers: { ...user.auth, 'content-type': 'application/x-ndjson' },
      payload: Readable.from(pieces),
    });
    expect(streamed.json().data).toMatchObject({ queuedBooks: 1, invalidBooks: 1 });
    expect((await detail(user, streamed.json().data.requestId)).failedItems).toEqual([
      { index: 0, row: 1, title: null, author: null, reason: 'is longer than 65536 bytes' },
    ]);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
