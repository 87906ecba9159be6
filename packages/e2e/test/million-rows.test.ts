// A 1,000,000-row CSV through the real processes: streamed to the API (generated as it is sent, so
// neither side ever has the whole file), drained by the bulk worker, reported by email. Every valid
// row becomes a book exactly once, the two bad rows are named by their row, one email reports it,
// and the API never held the file: its memory high-water mark stays far below the file's size as
// objects.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { reportsTo } from '@books/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isbn13, type RunningProcess, type System, signUp, startSystem, tag, waitFor } from './system.js';

const ROWS = 1_000_000;
// Rows as a spreadsheet numbers them (the header is row 1): one refused at upload, one by Postgres.
const NO_AUTHOR_ROW = 250_002;
const REPEATED_ISBN_ROW = 750_002;

let system: System;
let api: RunningProcess;
beforeAll(async () => {
  system = await startSystem('e2e-million', { BULK_CHUNK_SIZE: '5000', BULK_TURN_CHUNKS: '1000' });
  api = await system.start('api');
});
afterAll(() => system?.close());

const isbnOf = (i: number) => isbn13(`m${Math.floor(i / 9000)}`, i % 9000);

function* csv(t: string) {
  yield 'title,author,isbn,publishedYear\n';
  for (let at = 0; at < ROWS; at += 1000) {
    let chunk = '';
    for (let i = at; i < at + 1000; i++) {
      const row = i + 2;
      if (row === NO_AUTHOR_ROW) chunk += `Book ${t} ${i},,${isbnOf(i)},1999\n`;
      else if (row === REPEATED_ISBN_ROW) chunk += `Book ${t} ${i},Someone,${isbnOf(0)},1999\n`;
      else chunk += `"Book ${t} ${i}, vol. ${i % 7}",Author ${i % 1000},${isbnOf(i)},${1900 + (i % 120)}\n`;
    }
    yield chunk;
  }
}

/** The kernel's high-water mark of a process's resident memory, in MB. */
const peakRssMb = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

it('imports a 1,000,000-row CSV through the real processes: every valid row once, bad rows named, one email', async () => {
  const t = tag();
  const user = await signUp(system, `million_${t}`);
  const answer = await new Promise<{ status: number; body: { data: { requestId: string; queuedBooks: number; invalidBooks: number } } }>(
    (resolve, reject) => {
      const request = http.request(new URL('/books/bulk', system.baseUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'text/csv' },
      });
      request.on('response', (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
      });
      request.on('error', reject);
      pipeline(Readable.from(csv(t)), request).catch(reject);
    },
  );
  expect(answer.status).toBe(202);
  expect(answer.body.data).toMatchObject({ queuedBooks: ROWS - 1, invalidBooks: 1 });
  // The file as JavaScript objects would take well over a gigabyte; streamed, the API stays small.
  expect(peakRssMb(api.child.pid!)).toBeLessThan(450);
  const { requestId } = answer.body.data;

  const workers = [await system.start('bulk-worker'), await system.start('report-worker')];
  const view = async () => (await system.api('GET', `/books/bulk/${requestId}`, { token: user.token })).body.data;
  await waitFor(
    async () => (await view()).stage === 'completed',
    600_000,
    () => workers.map((w) => w.output().slice(-2000)).join('\n'),
  );
  expect(await view()).toMatchObject({ submitted: ROWS, queued: ROWS - 1, inserted: ROWS - 2, failed: 2, failedItemsTotal: 2 });
  const failures = (await system.api('GET', `/books/bulk/${requestId}/failures`, { token: user.token })).body.data;
  expect(failures).toEqual([
    expect.objectContaining({ row: NO_AUTHOR_ROW, column: 'author', reason: expect.stringMatching(/author/) }),
    expect.objectContaining({
      row: REPEATED_ISBN_ROW,
      reason: expect.stringMatching(/^duplicate ISBN .*: same as item 0 of this import$/),
    }),
  ]);

  const sql = postgres(system.ctx.database.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number; distinct: number }[]>`
      select count(*)::int as n, count(distinct bulk_item_index)::int as distinct from books where user_id = ${user.id}`;
    expect(row).toEqual({ n: ROWS - 2, distinct: ROWS - 2 });
  } finally {
    await sql.end();
  }
  const mails = reportsTo(system.smtp, user.email);
  expect(mails).toHaveLength(1);
  expect(mails[0]!.parsed.subject).toMatch(/^Your book import: 999998 of 1000000 added/);
  for (const worker of workers) expect(peakRssMb(worker.child.pid!)).toBeLessThan(450);
}, 900_000);
