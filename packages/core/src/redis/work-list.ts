// A Redis list used as a work queue that loses nothing: readers peek at its head, store what they
// read elsewhere (Postgres), and only then remove those entries, one copy each, by value. By value
// rather than LTRIM by count: two replicas may read the same head, and each removes only what it
// stored itself, so neither trims an entry the other has not stored yet; an entry pushed meanwhile
// is never touched. Callers make a twin harmless (the same text is the same work, stored once).
// Such a queue is sharded (keys.ts): one list per shard, read together, each entry removed from
// the list it came from.
import type { RedisClient } from './client.js';

/** Where an entry was read: its list and its exact text (to remove it by). */
export interface ListEntryRef {
  key: string;
  raw: string;
}

/** One entry as read, with its value, or null if it is not one of ours. */
export interface PeekedEntry<T> extends ListEntryRef {
  value: T | null;
}

/**
 * The oldest entries of the lists, at most `max` in all, taken from the lists' heads in turns so
 * that a long list does not hide the others; parsed as JSON and checked, left on the lists.
 */
export async function peekJsonLists<T>(
  redis: RedisClient,
  keys: readonly string[],
  max: number,
  check: (value: unknown) => value is T,
): Promise<PeekedEntry<T>[]> {
  const heads = await Promise.all(keys.map((key) => redis.lrange(key, 0, max - 1)));
  const taken: PeekedEntry<T>[] = [];
  for (let depth = 0; taken.length < max && heads.some((raws) => raws.length > depth); depth++) {
    heads.forEach((raws, i) => {
      const raw = raws[depth];
      if (raw !== undefined && taken.length < max) taken.push({ key: keys[i]!, raw, value: parseChecked(raw, check) });
    });
  }
  return taken;
}

function parseChecked<T>(raw: string, check: (value: unknown) => value is T): T | null {
  try {
    const parsed: unknown = JSON.parse(raw);
    return check(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** Removes one copy of each entry, by value: one pipeline per list (one slot each, as a cluster requires). */
export async function removeListEntries(redis: RedisClient, entries: readonly ListEntryRef[]): Promise<void> {
  const byKey = new Map<string, string[]>();
  for (const { key, raw } of entries) byKey.set(key, [...(byKey.get(key) ?? []), raw]);
  await Promise.all(
    [...byKey].map(async ([key, raws]) => {
      const pipeline = redis.pipeline();
      for (const raw of raws) pipeline.lrem(key, 1, raw);
      for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
    }),
  );
}
