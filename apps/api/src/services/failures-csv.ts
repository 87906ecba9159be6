// A request's failed items as CSV, Salesforce-style: each submitted row echoed with why it failed.
// Streamed page by page from the Redis list, so a file import's million failures never sit in
// memory; the columns need every key submitted, so the list is read twice (keys, then rows).
import { pipeline, Readable } from 'node:stream';
import type { RedisClient, RedisKeys } from '@books/core/redis';
import type { FailedItem } from '@books/core/schemas';
import { stringify } from 'csv-stringify';

const PAGE = 1000;
const BOOK_COLUMNS = ['title', 'author', 'isbn', 'publishedYear', 'genre'];

/**
 * OWASP's CSV injection advice: a cell a spreadsheet would run as a formula (= + - @, or a tab or
 * carriage return that hides one) is prefixed with a single quote, so it is shown as text.
 */
export function neutraliseCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

async function* failedItems(redis: RedisClient, key: string): AsyncGenerator<FailedItem> {
  for (let offset = 0; ; offset += PAGE) {
    const raw = await redis.lrange(key, offset, offset + PAGE - 1);
    for (const entry of raw) {
      let item: FailedItem | null = null;
      try {
        item = JSON.parse(entry) as FailedItem;
      } catch {
        // A corrupt entry is skipped, as in the JSON listing.
      }
      if (item && typeof item.index === 'number' && typeof item.reason === 'string') yield item;
    }
    if (raw.length < PAGE) return;
  }
}

function cellsOf(item: FailedItem, columns: string[]): string[] {
  const submitted = item.submitted ?? {};
  const value = (column: string): string => {
    if (column in submitted) return submitted[column] ?? '';
    if (column === 'title') return item.title ?? '';
    if (column === 'author') return item.author ?? '';
    return '';
  };
  return [String(item.row ?? item.index + 1), ...columns.map(value), item.reason].map(neutraliseCell);
}

/**
 * The CSV of one request's failures: header `row,<submitted columns>,reason`, CRLF line ends, in
 * stored order. A read that fails once the answer has started destroys the stream (the client sees
 * a cut-off download, never a CSV that looks whole) and is handed to `onError`.
 */
export async function failuresCsv(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  requestId: string,
  onError: (err: Error) => void,
): Promise<Readable> {
  const key = keys.bulkFailures(userId, requestId);
  const extra = new Set<string>();
  for await (const item of failedItems(redis, key)) {
    for (const column of Object.keys(item.submitted ?? {})) if (!BOOK_COLUMNS.includes(column)) extra.add(column);
  }
  const columns = [...BOOK_COLUMNS, ...[...extra].sort()];
  async function* rows() {
    yield ['row', ...columns, 'reason'].map(neutraliseCell);
    for await (const item of failedItems(redis, key)) yield cellsOf(item, columns);
  }
  return pipeline(Readable.from(rows()), stringify({ record_delimiter: 'windows' }), (err) => {
    if (err) onError(err);
  });
}
