// POST /books/bulk?dryRun=true (every item's verdict, duplicates of the collection and of the
// import included, nothing queued, for all three content types) and seed 002's multipart
// POST /books/upload with GET /books/upload/:id.
import { isbn13, signUp, type TestUser } from '@books/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, addBook, openStores, type QueueStores, startApi } from './helpers.js';

const MAX_BOOKS = 50;
let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  h = await startApi('bulk-dry-run', { BULK_MAX_BOOKS: String(MAX_BOOKS) });
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const dryRun = (user: TestUser, contentType: string, payload: string) =>
  h.app.inject({ method: 'POST', url: '/books/bulk?dryRun=true', headers: { ...user.auth, 'content-type': contentType }, payload });

/** Nothing of the user's is queued or staged, anywhere. */
async function expectNothingQueued(user: TestUser) {
  expect(await stores.redis.lrange(stores.keys.bulkQueue(user.id), 0, -1)).toEqual([]);
  expect(await stores.redis.zcard(stores.keys.bulkHistory(user.id))).toBe(0);
  expect((await stores.redis.zrange(stores.keys.bulkPending(user.id), 0, -1)).filter((m) => m.startsWith(`${user.id}:`))).toEqual([]);
  const [, staging] = await stores.redis.scan('0', 'MATCH', stores.keys.bulkStaging(user.id, '*'), 'COUNT', 10_000);
  expect(staging).toEqual([]);
}

/** A multipart/form-data body with one file part, as a browser or curl -F sends it. */
async function multipart(filename: string, content: string, field = 'file') {
  const form = new FormData();
  form.append('note', 'ignored');
  form.append(field, new Blob([content], { type: 'text/csv' }), filename);
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return { payload: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type')! };
}

const upload = async (user: TestUser, filename: string, content: string, query = '') => {
  const body = await multipart(filename, content);
  return h.app.inject({
    method: 'POST',
    url: `/books/upload${query}`,
    headers: { ...user.auth, 'content-type': body.contentType },
    payload: body.payload,
  });
};

describe('POST /books/bulk?dryRun=true', () => {
  it('gives every item its verdict, duplicates of the collection and within the import included, and queues nothing', async () => {
    const user = await signUp(h.app);
    const owned = isbn13('dry-owned', 1);
    const twice = isbn13('dry-twice', 1);
    await addBook(h.app, user, { title: 'Already mine', author: 'Me', isbn: owned });
    const books = [
      { title: 'Fine', author: 'A', isbn: isbn13('dry-fine', 1) },
      { title: 'No author' },
      { title: 'Mine again', author: 'B', isbn: owned },
      { title: 'First', author: 'C', isbn: twice },
      { title: 'Second', author: 'D', isbn: twice },
      { title: 'No ISBN', author: 'E' },
    ];
    const res = await dryRun(user, 'application/json', JSON.stringify({ books }));
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toEqual({
      dryRun: true,
      submitted: 6,
      valid: 3,
      invalid: 3,
      items: [
        { index: 0, ok: true },
        { index: 1, ok: false, reason: 'author is required' },
        { index: 2, ok: false, column: 'isbn', reason: `duplicate ISBN ${owned}: already in your collection` },
        { index: 3, ok: true },
        { index: 4, ok: false, column: 'isbn', reason: `duplicate ISBN ${twice}: same as item 3 of this import` },
        { index: 5, ok: true },
      ],
    });
    await expectNothingQueued(user);
    // Another user's collection is not this one's: the same ISBN is fine for them.
    const other = await signUp(h.app);
    const theirs = await dryRun(other, 'application/json', JSON.stringify({ books: [{ title: 'Mine?', author: 'B', isbn: owned }] }));
    expect(theirs.json().data.items).toEqual([{ index: 0, ok: true }]);
  });

  it('checks a CSV and an NDJSON body row by row, with the rows a user sees, and queues nothing', async () => {
    const user = await signUp(h.app);
    const isbn = isbn13('dry-csv', 1);
    const csv = ['Title,Author,ISBN,Shelf', `Good,Someone,${isbn},3`, 'Bad,,,4', '', `Again,Else,${isbn},5`].join('\r\n');
    const res = await dryRun(user, 'text/csv', csv);
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toMatchObject({
      dryRun: true,
      submitted: 3,
      valid: 1,
      invalid: 2,
      ignoredColumns: ['Shelf'],
      items: [
        { index: 0, row: 2, ok: true },
        { index: 1, row: 3, ok: false, column: 'Author' },
        { index: 2, row: 5, ok: false, column: 'isbn', reason: `duplicate ISBN ${isbn}: same as item 0 of this import` },
      ],
    });
    const ndjson = ['{"title":"One","author":"A"}', 'not json', '{"title":"Three","author":"C"}'].join('\n');
    const lines = await dryRun(user, 'application/x-ndjson', ndjson);
    expect(lines.json().data).toMatchObject({
      submitted: 3,
      valid: 2,
      items: [
        { index: 0, row: 1, ok: true },
        { index: 1, row: 2, ok: false },
        { index: 2, row: 3, ok: true },
      ],
    });
    await expectNothingQueued(user);
  });

  it('refuses a file of more than BULK_MAX_BOOKS rows with 413, naming the limit', async () => {
    const user = await signUp(h.app);
    const csv = ['title,author', ...Array.from({ length: MAX_BOOKS + 1 }, (_, i) => `B${i},A${i}`)].join('\n');
    const res = await dryRun(user, 'text/csv', csv);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'BULK_TOO_MANY_ROWS', error: expect.stringContaining('BULK_MAX_BOOKS') });
    await expectNothingQueued(user);
  });

  it('says of any import what a real submit then records: the same items valid, the same items invalid', async () => {
    // Property: whatever the mix of fine, invalid and repeated items, the dry run's invalid items are
    // exactly those a submit refuses at once plus the duplicates (which the worker refuses).
    const user = await signUp(h.app);
    await addBook(h.app, user, { title: 'Owned', author: 'Me', isbn: isbn13('prop-owned', 0) });
    const item = fc.oneof(
      fc.record({ title: fc.constant('T'), author: fc.constant('A'), isbn: fc.integer({ min: 0, max: 4 }).map((n) => isbn13('prop', n)) }),
      fc.record({ title: fc.constant('Owned again'), author: fc.constant('A'), isbn: fc.constant(isbn13('prop-owned', 0)) }),
      fc.record({ title: fc.constant('') }),
      fc.record({ title: fc.constant('No ISBN'), author: fc.constant('A') }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 12 }), async (books) => {
        const verdicts = (await dryRun(user, 'application/json', JSON.stringify({ books }))).json().data.items as { ok: boolean }[];
        const submitted = await h.app.inject({ method: 'POST', url: '/books/bulk', headers: user.auth, payload: { books } });
        const { requestId, invalidBooks } = submitted.json().data;
        const seen = new Set<string>();
        const duplicates = books.filter((book) => {
          if (!('isbn' in book)) return false;
          const again = seen.has(book.isbn) || book.isbn === isbn13('prop-owned', 0);
          seen.add(book.isbn);
          return again;
        }).length;
        expect(verdicts.filter((v) => !v.ok).length).toBe(invalidBooks + duplicates);
        await h.app.inject({ method: 'DELETE', url: `/books/bulk/${requestId}`, headers: user.auth });
      }),
      { numRuns: 25 },
    );
  });
});

describe('POST /books/upload (multipart) and GET /books/upload/:id', () => {
  it('queues the CSV file field like a text/csv body and shows its status under both names', async () => {
    const user = await signUp(h.app);
    const csv =
      'title,author,price,publication_date\nClean Code,Robert C. Martin,29.99,2008-08-11\nRefactoring,Martin Fowler,39.99,1999-07-08\n';
    const res = await upload(user, 'books.csv', csv);
    expect(res.statusCode).toBe(202);
    const { data } = res.json();
    expect(data).toMatchObject({ queuedBooks: 2, invalidBooks: 0, ignoredColumns: ['price'], uploadId: data.requestId });
    const items = (await stores.redis.lrange(stores.keys.bulkItems(user.id, data.requestId), 0, -1)).map((raw) => JSON.parse(raw));
    expect(items.map((entry) => entry.b)).toEqual([
      { title: 'Clean Code', author: 'Robert C. Martin', publishedYear: 2008 },
      { title: 'Refactoring', author: 'Martin Fowler', publishedYear: 1999 },
    ]);
    const viaUpload = await h.app.inject({ method: 'GET', url: `/books/upload/${data.uploadId}`, headers: user.auth });
    const viaBulk = await h.app.inject({ method: 'GET', url: `/books/bulk/${data.requestId}`, headers: user.auth });
    expect(viaUpload.statusCode).toBe(200);
    expect(viaUpload.json()).toEqual(viaBulk.json());
    const stranger = await signUp(h.app);
    expect((await h.app.inject({ method: 'GET', url: `/books/upload/${data.uploadId}`, headers: stranger.auth })).statusCode).toBe(404);
  });

  it('dry-runs an upload, and refuses a body that is not a form with a .csv file', async () => {
    const user = await signUp(h.app);
    const checked = await upload(user, 'list.CSV', 'title,author\nA,B\nC,\n', '?dryRun=true');
    expect(checked.statusCode).toBe(200);
    expect(checked.json().data).toMatchObject({ dryRun: true, valid: 1, invalid: 1 });
    await expectNothingQueued(user);

    const notCsv = await upload(user, 'books.xlsx', 'title,author\nA,B\n');
    expect(notCsv.statusCode).toBe(400);
    expect(notCsv.json().code).toBe('UPLOAD_NOT_CSV');
    const notForm = await h.app.inject({
      method: 'POST',
      url: '/books/upload',
      headers: { ...user.auth, 'content-type': 'text/csv' },
      payload: 'title,author\nA,B\n',
    });
    expect(notForm.statusCode).toBe(400);
    expect(notForm.json().code).toBe('UPLOAD_NOT_CSV');
    expect((await h.app.inject({ method: 'POST', url: '/books/upload' })).statusCode).toBe(401);
    await expectNothingQueued(user);
  });

  it('answers 400 UPLOAD_MALFORMED, not a 500, for a multipart body the parser cannot read (found by the hostile-input test)', async () => {
    const user = await signUp(h.app);
    // The last: a .csv file part whose body ends before the closing boundary.
    const truncated = '--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\ntitle,author\r\nA,B\r\n';
    for (const payload of ['null', '--x\r\nContent-Disposition: form-data', truncated]) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/books/upload',
        headers: { ...user.auth, 'content-type': 'multipart/form-data; boundary=x' },
        payload,
      });
      expect(res.statusCode, payload).toBe(400);
      expect(res.json().code, payload).toBe('UPLOAD_MALFORMED');
    }
    await expectNothingQueued(user);
  });
});
