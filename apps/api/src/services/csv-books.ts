// A CSV upload read as it arrives (csv-parse's streaming API): the header names the columns, in any
// order and case; each later record becomes a row for the import. A malformed record (a stray quote,
// the wrong number of fields) fails alone, with its row as a spreadsheet numbers it (header = 1).
import { pipeline, type Readable } from 'node:stream';
import { type CsvError, parse } from 'csv-parse';
import { AppError } from '../errors.js';
import { type FileRow, MAX_ROW_BYTES, unreadableFile } from './file-rows.js';

/** Header names (lower-cased) of the book's fields. `publication_date` is a date or a year. */
const COLUMNS: Record<string, string> = {
  title: 'title',
  author: 'author',
  isbn: 'isbn',
  publishedyear: 'publishedYear',
  genre: 'genre',
  publication_date: 'publicationDate',
};

export interface CsvHeader {
  /** Header cells that name no field of a book, as written: ignored. */
  ignoredColumns: string[];
}

interface Header {
  names: string[];
  /** Position of each known column. */
  positions: Map<string, number>;
  ignored: string[];
}

/**
 * The data rows of a CSV body. `onHeader` is called once the header is read. Rows are counted as a
 * spreadsheet counts them, so empty lines count (and are skipped) and a quoted newline does not:
 * that is why empty lines are not dropped by csv-parse (`skip_empty_lines` would hide them from
 * the count) but here.
 */
export async function* csvRows(body: Readable, onHeader: (header: CsvHeader) => void): AsyncGenerator<FileRow> {
  // Records csv-parse skipped, each with how many records it had emitted before it. on_skip runs
  // while a chunk is parsed, which may be well before the records parsed around it are read from
  // the stream: each is handed on before the first record emitted after it.
  const malformed: { afterRecords: number; row: FileRow }[] = [];
  let skipped = 0;
  const malformedBefore = (record: number) => {
    let n = 0;
    while (n < malformed.length && (malformed[n] as { afterRecords: number }).afterRecords < record) n++;
    return malformed.splice(0, n).map((skip) => skip.row);
  };
  // No on_record (nor `info`): csv-parse then builds two object spreads of its state for every
  // record, which V8 (Node 20) promotes to the old generation, about 200 bytes a row; a million-row
  // upload grew the heap by 150 MB between two full collections. Rows are numbered as they are read
  // instead: the records emitted so far plus the records skipped before them.
  const parser = parse({
    bom: true,
    relax_column_count: true,
    skip_records_with_error: true,
    max_record_size: MAX_ROW_BYTES,
    on_skip: (err: CsvError | undefined): undefined => {
      const row = parser.info.records + ++skipped;
      // csv-parse cannot resume after an oversized record (it reports every byte that follows).
      if (err?.code === 'CSV_MAX_RECORD_SIZE')
        throw new AppError(413, 'CSV_ROW_TOO_LARGE', `Row ${row} is longer than ${MAX_ROW_BYTES} bytes; nothing was queued`);
      malformed.push({ afterRecords: parser.info.records, row: { kind: 'unreadable', row, reason: describeCsvError(err) } });
      return undefined;
    },
  });
  // pipeline, not pipe: a client that breaks off errors the parser, and so this loop.
  pipeline(body, parser, () => {});
  let header: Header | null = null;
  let records = 0;
  let skippedBefore = 0;
  for await (const fields of parser as AsyncIterable<string[]>) {
    const before = malformedBefore(++records);
    skippedBefore += before.length;
    if (!header && before.length) throw badHeader(before[0] as FileRow);
    yield* before;
    if (isEmpty(fields)) continue;
    if (!header) {
      header = readHeader(fields);
      onHeader({ ignoredColumns: header.ignored });
      continue;
    }
    yield toRow(header, records + skippedBefore, fields);
  }
  if (!header) {
    if (malformed.length) throw badHeader((malformed[0] as { row: FileRow }).row);
    throw unreadableFile('BULK_EMPTY', 'The file is empty: it needs a header row (title, author, …) and at least one row');
  }
  yield* malformed.splice(0).map((skip) => skip.row);
}

const badHeader = (row: FileRow) =>
  unreadableFile('CSV_BAD_HEADER', `The header row could not be read: it ${'reason' in row ? row.reason : 'is malformed'}`);

const isEmpty = (fields: string[]) => fields.every((field) => field.trim() === '');

function readHeader(fields: string[]): Header {
  const positions = new Map<string, number>();
  const names = fields.map((cell, i) => cell.trim() || `column ${i + 1}`);
  const ignored: string[] = [];
  fields.forEach((cell, i) => {
    const field = COLUMNS[cell.trim().toLowerCase()];
    if (!field) {
      ignored.push(names[i] as string);
      return;
    }
    if (positions.has(field)) throw unreadableFile('CSV_DUPLICATE_COLUMN', `The header names the column "${cell.trim()}" twice`);
    positions.set(field, i);
  });
  const missing = ['title', 'author'].filter((field) => !positions.has(field));
  if (missing.length) throw unreadableFile('CSV_MISSING_COLUMNS', `The header row must name the columns ${missing.join(' and ')}`);
  return { names, positions, ignored };
}

function toRow(header: Header, row: number, fields: string[]): FileRow {
  const asWritten = Object.fromEntries(fields.map((cell, i) => [header.names[i] ?? `column ${i + 1}`, cell]));
  if (fields.length !== header.names.length) {
    return {
      kind: 'unreadable',
      row,
      reason: `has ${fields.length} fields where the header has ${header.names.length}`,
      asWritten,
    };
  }
  const cell = (field: string) => {
    const at = header.positions.get(field);
    return at === undefined ? undefined : fields[at];
  };
  // publishedYear wins when both columns are there and it is filled in.
  const yearCell = cell('publishedYear')?.trim() ?? '';
  const dateCell = cell('publicationDate')?.trim() ?? '';
  const yearFromDate = yearCell === '' && dateCell !== '';
  const columnOf = (field: string) => {
    const at = header.positions.get(field === 'publishedYear' && yearFromDate ? 'publicationDate' : field);
    return at === undefined ? field : (header.names[at] as string);
  };
  const item: Record<string, unknown> = {};
  for (const field of ['title', 'author']) {
    const value = cell(field);
    if (value !== undefined) item[field] = value;
  }
  for (const field of ['isbn', 'genre']) {
    const value = cell(field);
    if (value !== undefined && value.trim() !== '') item[field] = value;
  }
  if (yearCell !== '') {
    if (!/^\d{1,4}$/.test(yearCell)) return unreadableCell(row, columnOf('publishedYear'), 'must be a year such as 1965', asWritten);
    item.publishedYear = Number(yearCell);
  } else if (dateCell !== '') {
    const year = yearOfDate(dateCell);
    if (year === null) return unreadableCell(row, columnOf('publishedYear'), 'must be a date such as 2001-05-17, or a year', asWritten);
    item.publishedYear = year;
  }
  return { kind: 'item', item, row, columnOf, asWritten };
}

const unreadableCell = (row: number, column: string, message: string, asWritten: Record<string, unknown>): FileRow => ({
  kind: 'unreadable',
  row,
  column,
  reason: `${column} ${message}`,
  asWritten,
});

/** The year of `2001-05-17`, `2001-05` or `2001`; null for anything else or a day that does not exist. */
export function yearOfDate(text: string): number | null {
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(text);
  if (!match) return null;
  const [year, month = 1, day = 1] = match.slice(1).map((part) => (part === undefined ? undefined : Number(part))) as [
    number,
    number?,
    number?,
  ];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? year : null;
}

function describeCsvError(err: CsvError | undefined): string {
  switch (err?.code) {
    case 'INVALID_OPENING_QUOTE':
      return 'has a quote inside a field that does not start with one: put the field in double quotes and double every quote in it';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'has a closing quote followed by more text: a quoted field must end at its closing quote (double a quote meant as text)';
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'opens a quote that is never closed: every row after it was read as part of this one';
    default:
      return `could not be read as CSV${err?.message ? `: ${err.message}` : ''}`;
  }
}
