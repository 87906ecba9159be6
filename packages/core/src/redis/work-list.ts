// A Redis list used as a work queue that loses nothing: readers peek at its head, store what they
// read elsewhere (Postgres), and only then remove those entries, one copy each, by value. By value
// rather than LTRIM by count: two replicas may read the same head, and each removes only what it
// stored itself, so neither trims an entry the other has not stored yet; an entry pushed meanwhile
// is never touched. Callers make a twin harmless (the same text is the same work, stored once).
import type { Redis } from 'ioredis';

/** One entry as read: its exact text (to remove it by) and its value, or null if it is not one of ours. */
export interface PeekedEntry<T> {
  raw: string;
  value: T | null;
}

/** The oldest `max` entries, parsed as JSON and checked, left on the list. */
export async function peekJsonList<T>(
  redis: Redis,
  key: string,
  max: number,
  check: (value: unknown) => value is T,
): Promise<PeekedEntry<T>[]> {
  const raws = await redis.lrange(key, 0, max - 1);
  return raws.map((raw) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return { raw, value: null };
    }
    return { raw, value: check(parsed) ? parsed : null };
  });
}

/** Removes one copy of each entry, by value, in one round trip. */
export async function removeListEntries(redis: Redis, key: string, raws: readonly string[]): Promise<void> {
  if (!raws.length) return;
  const pipeline = redis.pipeline();
  for (const raw of raws) pipeline.lrem(key, 1, raw);
  for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
}
