// The CSV reader against any file a spreadsheet or a script could write: whatever the quoting, the
// column order and case, the line ends, a BOM or how the bytes arrive, each row reads back as the
// book that was written, as the JSON import would have read it, at the row a spreadsheet shows.
import { Readable } from 'node:stream';
import { isbn13 } from '@books/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkItem } from '../src/services/bulk-items.js';
import { csvRows, yearOfDate } from '../src/services/csv-books.js';

const now = new Date();
// Commas, quotes and non-ASCII letters, the characters a CSV writer must get right.
const text = fc
  .string({ unit: fc.constantFrom('a', 'Z', 'é', 'ß', '—', '7', ' ', ',', '"', "'", ';'), minLength: 1, maxLength: 12 })
  .map((s) => s.trim())
  .filter((s) => s.length > 0);
const book = fc.record(
  {
    title: text,
    author: text,
    isbn: fc.integer({ min: 0, max: 9999 }).map((n) => isbn13('csv-property', n)),
    publishedYear: fc.integer({ min: 1, max: now.getUTCFullYear() }),
    genre: text,
    // A column the reader ignores, free to hold newlines of either kind.
    notes: fc.string({ unit: fc.constantFrom('x', ',', '"', '\n', '\r\n', ' '), maxLength: 8 }),
  },
  { requiredKeys: ['title', 'author'] },
);
const HEADERS = ['title', 'author', 'isbn', 'publishedYear', 'genre', 'notes'] as const;

const file = fc.record({
  books: fc.array(book, { minLength: 1, maxLength: 20 }),
  order: fc.shuffledSubarray([...HEADERS], { minLength: HEADERS.length }),
  upper: fc.array(fc.boolean(), { minLength: HEADERS.length, maxLength: HEADERS.length }),
  eol: fc.constantFrom('\n', '\r\n'),
  bom: fc.boolean(),
  quoteAll: fc.boolean(),
  finalEol: fc.boolean(),
  chunk: fc.integer({ min: 1, max: 64 }),
});

function cell(value: unknown, quote: boolean): string {
  const s = value === undefined ? '' : String(value);
  return quote || /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

async function readBack(csv: Buffer, chunk: number) {
  const chunks: Buffer[] = [];
  // Bytes cut anywhere, a multi-byte character or a CRLF included.
  for (let at = 0; at < csv.length; at += chunk) chunks.push(csv.subarray(at, at + chunk));
  const read: { row: number; book: unknown }[] = [];
  let ignored: string[] = [];
  for await (const row of csvRows(Readable.from(chunks), (header) => (ignored = header.ignoredColumns))) {
    if (row.kind !== 'item') throw new Error(`row ${row.row} unreadable: ${row.reason}`);
    const checked = checkItem(row.item, read.length, now, row);
    if (!checked.ok) throw new Error(`row ${row.row} invalid: ${checked.failure.reason}`);
    read.push({ row: row.row, book: checked.item.book });
  }
  return { read, ignored };
}

describe('csvRows', () => {
  it('reads back every book written, at its spreadsheet row, however the CSV is written', async () => {
    await fc.assert(
      fc.asyncProperty(file, async ({ books, order, upper, eol, bom, quoteAll, finalEol, chunk }) => {
        const header = order.map((name, i) => (upper[i] ? name.toUpperCase() : name));
        const lines = [header.join(','), ...books.map((b) => order.map((name) => cell(b[name], quoteAll)).join(','))];
        const csv = Buffer.from(`${bom ? '\uFEFF' : ''}${lines.join(eol)}${finalEol ? eol : ''}`);
        const { read, ignored } = await readBack(csv, chunk);
        const expected = books.map(({ notes: _notes, ...b }, i) => {
          const json = checkItem(b, i, now);
          if (!json.ok) throw new Error(`generated an invalid book: ${json.failure.reason}`);
          return { row: i + 2, book: json.item.book };
        });
        expect(read).toEqual(expected);
        expect(ignored).toEqual([header[order.indexOf('notes')]]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('yearOfDate', () => {
  it.each([
    ['2001-05-17', 2001],
    ['2001-05', 2001],
    ['1965', 1965],
    ['2001-02-29', null],
    ['2000-02-29', 2000],
    ['2001-13-01', null],
    ['17/05/2001', null],
    ['soon', null],
  ])('%s → %s', (input, year) => {
    expect(yearOfDate(input)).toBe(year);
  });
});
