// One chunk of a request into Postgres, in one transaction, through postgres.js (unnest arrays:
// no bind-parameter limit, ~6x faster than building a multi-row INSERT in Drizzle).
// Idempotent per (request, item): books_bulk_item_key makes a retried chunk insert nothing twice,
// and an item already present from an earlier attempt counts as inserted.
import type { FailedItem, QueuedItem } from '@books/core';
import type { Sql } from 'postgres';

export interface ChunkResult {
  inserted: number;
  failures: FailedItem[];
}

export async function insertChunk(sql: Sql, userId: string, requestId: string, items: QueuedItem[]): Promise<ChunkResult> {
  if (items.length === 0) return { inserted: 0, failures: [] };
  const indexes = items.map((item) => item.i);
  const present = await sql.begin(async (tx) => {
    // ON CONFLICT DO NOTHING skips a repeat of (request, item) and a duplicate ISBN for this user
    // alike; ORDER BY makes the earlier item win when two in one request share an ISBN.
    await tx`
      insert into books (user_id, title, author, isbn, published_year, genre, bulk_request_id, bulk_item_index, created_at, updated_at)
      select ${userId}::uuid, t.title, t.author, t.isbn, t.published_year, t.genre, ${requestId}::uuid, t.idx, clock_timestamp(), clock_timestamp()
      from unnest(
        ${items.map((item) => item.b.title)}::text[],
        ${items.map((item) => item.b.author)}::text[],
        ${items.map((item) => item.b.isbn ?? null)}::text[],
        ${items.map((item) => item.b.publishedYear ?? null)}::int[],
        ${items.map((item) => item.b.genre ?? null)}::text[],
        ${indexes}::int[]
      ) as t(title, author, isbn, published_year, genre, idx)
      order by t.idx
      on conflict do nothing`;
    return tx<{ i: number }[]>`
      select bulk_item_index as i from books
      where bulk_request_id = ${requestId}::uuid and bulk_item_index = any(${indexes}::int[])`;
  });
  const insertedIndexes = new Set(present.map((row) => row.i));
  const missing = items.filter((item) => !insertedIndexes.has(item.i));
  return { inserted: insertedIndexes.size, failures: await explainRejections(sql, userId, requestId, missing) };
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
    return { index: item.i, title: item.b.title, author: item.b.author, reason };
  });
}
