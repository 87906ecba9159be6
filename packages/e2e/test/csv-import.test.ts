// A CSV import end to end: uploaded to the real API, drained by the real bulk worker. The valid rows
// become books; a row refused on upload and a row the database refuses both name their row.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isbn13, type System, signUp, startSystem, tag, waitFor } from './system.js';

let system: System;
beforeAll(async () => {
  system = await startSystem('e2e-csv-import');
  await system.start('api');
});
afterAll(() => system?.close());

const ROWS = 4500;

it('imports a CSV of several thousand rows; each failure, at upload or in the database, names its row in the file', async () => {
  const user = await signUp(system, `csv_${tag()}`);
  // Spread over several staged batches (1,000 rows) and several worker chunks (2,000 books).
  const lines = ['ISBN,Title,Author,publication_date'];
  for (let i = 0; i < ROWS; i++) lines.push(`${isbn13('e2e-csv', i)},"Book ${i}, the sequel",Author ${i},${1900 + (i % 100)}-01-15`);
  lines[101] = `${isbn13('e2e-csv', 100)},No author here,,2001`; // row 102: refused on upload
  lines[3001] = `${isbn13('e2e-csv', 7)},Same ISBN as row 9,Someone,2001`; // row 3002: refused by the database
  const res = await fetch(`${system.baseUrl}/books/bulk`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.token}`, 'content-type': 'text/csv' },
    body: `${lines.join('\r\n')}\r\n`,
  });
  expect(res.status).toBe(202);
  const { data } = (await res.json()) as { data: { requestId: string } };
  expect(data).toMatchObject({ queuedBooks: ROWS - 1, invalidBooks: 1, ignoredColumns: [] });

  const bulk = await system.start('bulk-worker');
  const view = async () => (await system.api('GET', `/books/bulk/${data.requestId}`, { token: user.token })).body.data;
  await waitFor(
    async () => (await view()).stage === 'processed_awaiting_report',
    60_000,
    () => bulk.output(),
  );

  expect(await view()).toMatchObject({ submitted: ROWS, queued: ROWS - 1, inserted: ROWS - 2, failed: 2, failedItemsTotal: 2 });
  const failures = (await system.api('GET', `/books/bulk/${data.requestId}/failures`, { token: user.token })).body.data;
  expect(failures).toEqual([
    expect.objectContaining({ index: 100, row: 102, column: 'Author', reason: expect.stringMatching(/^author must not be empty/) }),
    expect.objectContaining({
      index: 3000,
      row: 3002,
      reason: expect.stringMatching(/^duplicate ISBN .*: same as item 7 of this import$/),
    }),
  ]);
  const books = await system.api('GET', '/books?limit=1', { token: user.token });
  expect(books.body.total).toBe(ROWS - 2);
  const dune = await system.api('GET', '/books?limit=1000&search=Book%209%2C%20the%20sequel', { token: user.token });
  expect(dune.body.data[0]).toMatchObject({ title: 'Book 9, the sequel', author: 'Author 9', publishedYear: 1909 });
});
