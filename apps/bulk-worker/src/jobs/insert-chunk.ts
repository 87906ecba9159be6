// One chunk of a request into Postgres, in one transaction, through postgres.js (unnest arrays:
// no bind-parameter limit, ~6x faster than building a multi-row INSERT in Drizzle).
// Idempotent per (request, item): books_bulk_item_key makes a retried chunk insert nothing twice,
// and an item already present from an earlier attempt counts as inserted.
// A value Postgres refuses (a NUL byte, a number out of range…) fails its whole statement; then the
// chunk is inserted again with that row isolated by halving under savepoints, so the row fails
// alone, with a readable reason, and the rest go in. Any other error (connection, server) is the
// caller's: the request is retried.
import type { FailedItem, QueuedItem } from '@books/core/schemas';
import type { Sql, TransactionSql } from 'postgres';
import { rowRejectionReason } from './postgres-errors.js';

export interface ChunkResult {
  inserted: number;
  failures: FailedItem[];
  /** Rows Postgres refused, with its own words, for the operators' log (never shown to users). */
  refused: { index: number; sqlState: string; detail: string }[];
}

export async function insertChunk(sql: Sql, userId: string, requestId: string, items: QueuedItem[]): Promise<ChunkResult> {
  if (items.length === 0) return { inserted: 0, failures: [], refused: [] };
  const indexes = items.map((item) => item.i);
  const refused: (ChunkResult['refused'][number] & { reason: string })[] = [];
  const insertAndCheck = (isolate: boolean) =>
    sql.begin(async (tx) => {
      if (isolate) await insertIsolating(tx, userId, requestId, items, refused);
      else await insertRows(tx, userId, requestId, items);
      return tx<{ i: number }[]>`
        select bulk_item_index as i from books
        where bulk_request_id = ${requestId}::uuid and bulk_item_index = any(${indexes}::int[])`;
    });
  let present: { i: number }[];
  try {
    present = await insertAndCheck(false);
  } catch (err) {
    if (!rowRejectionReason(err)) throw err;
    present = await insertAndCheck(true);
  }
  const insertedIndexes = new Set(present.map((row) => row.i));
  const refusedIndexes = new Set(refused.map((row) => row.index));
  const missing = items.filter((item) => !insertedIndexes.has(item.i) && !refusedIndexes.has(item.i));
  const failures = [
    ...refused.map(({ index, reason }) => {
      const item = items.find((candidate) => candidate.i === index)!;
      return failureOf(item, reason);
    }),
    ...(await explainRejections(sql, userId, requestId, missing)),
  ].sort((a, b) => a.index - b.index);
  return { inserted: insertedIndexes.size, failures, refused: refused.map(({ reason: _reason, ...row }) => row) };
}

// ON CONFLICT DO NOTHING skips a repeat of (request, item) and a duplicate ISBN for this user
// alike; ORDER BY makes the earlier item win when two in one request share an ISBN.
async function insertRows(tx: TransactionSql, userId: string, requestId: string, items: QueuedItem[]): Promise<void> {
  await tx`
    insert into books (user_id, title, author, isbn, published_year, genre, bulk_request_id, bulk_item_index, created_at, updated_at)
    select ${userId}::uuid, t.title, t.author, t.isbn, t.published_year, t.genre, ${requestId}::uuid, t.idx, clock_timestamp(), clock_timestamp()
    from unnest(
      ${items.map((item) => item.b.title)}::text[],
      ${items.map((item) => item.b.author)}::text[],
      ${items.map((item) => item.b.isbn ?? null)}::text[],
      ${items.map((item) => item.b.publishedYear ?? null)}::int[],
      ${items.map((item) => item.b.genre ?? null)}::text[],
      ${items.map((item) => item.i)}::int[]
    ) as t(title, author, isbn, published_year, genre, idx)
    order by t.idx
    on conflict do nothing`;
}

/** Halves the rows under savepoints until each refused row stands alone: k bad rows cost O(k log n) statements. */
async function insertIsolating(
  tx: TransactionSql,
  userId: string,
  requestId: string,
  items: QueuedItem[],
  refused: (ChunkResult['refused'][number] & { reason: string })[],
): Promise<void> {
  try {
    await tx.savepoint((sp) => insertRows(sp, userId, requestId, items));
  } catch (err) {
    const reason = rowRejectionReason(err);
    if (!reason) throw err;
    if (items.length === 1) {
      const e = err as { code?: string; message?: string };
      refused.push({ index: items[0]!.i, sqlState: e.code ?? '', detail: e.message ?? String(err), reason });
      return;
    }
    const half = Math.ceil(items.length / 2);
    await insertIsolating(tx, userId, requestId, items.slice(0, half), refused);
    await insertIsolating(tx, userId, requestId, items.slice(half), refused);
  }
}

/** Says why each item did not go in: which book already holds its ISBN. */
async function explainRejections(sql: Sql, userId: string, requestId: string, missing: QueuedItem[]): Promise<FailedItem[]> {
  if (missing.length === 0) return [];
  const isbns = [...new Set(missing.map((item) => item.b.isbn).filter((isbn): isbn is string => Boolean(isbn)))];
  const holders = isbns.length
    ? await sql<{ isbn: string; bulk_request_id: string | null; bulk_item_index: number | null }[]>`
        select isbn, bulk_request_id, bulk_item_index from books where user_id = ${userId}::uuid and isbn = any(${isbns}::text[])`
    : [];
  const holderByIsbn = new Map(holders.map((row) => [row.isbn, row]));
  return missing.map((item) => {
    const holder = item.b.isbn ? holderByIsbn.get(item.b.isbn) : undefined;
    let reason = 'not inserted: it conflicts with an existing book';
    if (holder?.bulk_request_id === requestId)
      reason = `duplicate ISBN ${item.b.isbn}: same as item ${holder.bulk_item_index} of this import`;
    else if (holder) reason = `duplicate ISBN ${item.b.isbn}: already in your collection`;
    return failureOf(item, reason);
  });
}

/** A refused item's failure; an item of a file keeps its row, so the user finds it in the file. */
function failureOf(item: QueuedItem, reason: string): FailedItem {
  return { index: item.i, title: item.b.title, author: item.b.author, reason, ...(item.r === undefined ? {} : { row: item.r }) };
}
