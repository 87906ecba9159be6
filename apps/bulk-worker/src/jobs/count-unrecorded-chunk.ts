// A request whose cancel is pending when a worker picks it up: the worker that was processing it
// may have died after committing its last chunk and before Redis heard of it. Cancelling at once
// would leave those books in the collection but not in the counts, so what Postgres holds of the
// chunk at the cursor is counted and recorded first. Nothing is inserted: a cancelled request
// gets no new books, only the truth about the ones it has.
import type { StoredBulkRequest } from '@books/core/bulk';
import type { BulkDeps } from './drain-user.js';

/** Records the committed but unrecorded chunk at the cursor, if any; the books it counted. */
export async function countUnrecordedChunk(deps: BulkDeps, record: StoredBulkRequest, token: string): Promise<number> {
  const { sql, redis, keys, scripts, settings } = deps;
  const { userId, requestId, nextItem } = record;
  const raw = await redis.lrange(keys.bulkItems(userId, requestId), nextItem, nextItem + settings.chunkSize - 1);
  if (raw.length === 0) return 0;
  // The items' indexes only; an entry that does not parse cannot have gone in.
  const indexes = raw.flatMap((entry) => {
    try {
      const i = (JSON.parse(entry) as { i?: unknown }).i;
      return Number.isInteger(i) ? [i as number] : [];
    } catch {
      return [];
    }
  });
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from books where bulk_request_id = ${requestId}::uuid and bulk_item_index = any(${indexes}::int[])`;
  const present = row?.n ?? 0;
  if (present === 0) return 0;
  const recorded = await scripts.recordProgress(userId, requestId, token, {
    from: nextItem,
    to: nextItem + raw.length,
    inserted: present,
    failures: [],
  });
  return recorded ? present : 0;
}
