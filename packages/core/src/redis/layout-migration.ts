// Moves a standalone Redis from the pre-cluster key layout to today's (keys.ts). Before, a user's
// keys were `<name>:user:{<userId>}…` and each global index was one key; now a user's keys carry
// their shard's tag and each index is one key per shard. The old names are spelled here and only
// here, so that nothing else can write them again. Run by the migrate step before the processes
// start, with the old processes stopped: an old process would go on writing old names.
//
// Idempotent, and safe after a crash midway: a key is moved by RENAMENX (it is under one name or
// the other, never both, and a key already under its new name is counted as a conflict, not
// overwritten); a batch of index entries leaves the old key in the same MULTI that adds it to the
// shards, so no entry is moved twice.
import { type ChainableCommander, Cluster, type Redis } from 'ioredis';
import { UUID_PATTERN } from '../schemas/common.js';
import type { RedisClient } from './client.js';
import { parseRequestMember, type RedisKeys } from './keys.js';

export interface LayoutMigrationLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LayoutMigrationResult {
  /** Keys moved to their new name (user keys and account-mail keys). */
  renamed: number;
  /** Entries of the old global indexes moved into their shards. */
  indexEntries: number;
  /** Keys (or index members) left where they were because the new name already held something. */
  conflicts: number;
}

const UUID = UUID_PATTERN.slice(1, -1);
/** How many entries of an old index one MULTI moves: bounded, so that no transaction blocks Redis long. */
const BATCH = 500;

type NewName = (keys: RedisKeys, userId: string, id: string) => string;

/** Every old per-user key: its name, what may follow `:user:{<userId>}`, and the builder of its new name. */
const OLD_USER_KEYS: readonly { name: string; suffix: string; to: NewName }[] = [
  { name: 'books', suffix: '', to: (k, u) => k.booksCache(u) },
  { name: 'bulk_books', suffix: '', to: (k, u) => k.bulkQueue(u) },
  { name: 'bulk_books', suffix: `:(${UUID})`, to: (k, u, id) => k.bulkItems(u, id) },
  { name: 'bulk_request', suffix: `:(${UUID})`, to: (k, u, id) => k.bulkRequest(u, id) },
  { name: 'bulk_failures', suffix: `:(${UUID})`, to: (k, u, id) => k.bulkFailures(u, id) },
  { name: 'bulk_requests', suffix: '', to: (k, u) => k.bulkHistory(u) },
  { name: 'bulk_status', suffix: '', to: (k, u) => k.bulkStatus(u) },
  { name: 'bulk_lease', suffix: '', to: (k, u) => k.bulkLease(u) },
  // The Idempotency-Key's hash (hex), or `-` for a submit without one.
  { name: 'bulk_idempotency', suffix: '(?::([0-9a-f]{1,64}|-))', to: (k, u, hash) => k.bulkIdempotency(u, hash) },
  { name: 'bulk_void', suffix: `:(${UUID})`, to: (k, u, id) => k.bulkVoid(u, id) },
  { name: 'report_lease', suffix: '', to: (k, u) => k.reportLease(u) },
  { name: 'report_resend_throttle', suffix: '', to: (k, u) => k.reportResendThrottle(u) },
  { name: 'report_resend_lease', suffix: `:(${UUID})`, to: (k, u, id) => k.reportResendLease(u, id) },
  { name: 'bulk_staging', suffix: `:(${UUID})`, to: (k, u, id) => k.bulkStaging(u, id) },
  { name: 'bulk_staging', suffix: `:(${UUID}):items`, to: (k, u, id) => k.bulkStagedItems(u, id) },
  { name: 'bulk_staging', suffix: `:(${UUID}):failures`, to: (k, u, id) => k.bulkStagedFailures(u, id) },
];

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');
const uuid = new RegExp(UUID_PATTERN);
const isUuid = (value: unknown): value is string => typeof value === 'string' && uuid.test(value);

/**
 * The new name of an old per-user key of this namespace, or null for any other key. Anchored on the
 * prefix and on the known names, so that with an empty prefix another namespace's `x:bulk_books:…`
 * is not ours. (Only a prefix that ends inside a name could be mistaken: `bulk_books:user:{…}` is the
 * empty prefix's queue and prefix `bulk_`'s books cache. A prefix ending in `:` never is.)
 */
export function oldUserKeyMapper(keys: RedisKeys): (oldKey: string) => string | null {
  const prefix = escapeRegExp(keys.prefix);
  const shapes = OLD_USER_KEYS.map(({ name, suffix, to }) => ({
    pattern: new RegExp(`^${prefix}${name}:user:\\{(${UUID})\\}${suffix}$`),
    to,
  }));
  return (oldKey) => {
    for (const { pattern, to } of shapes) {
      const match = pattern.exec(oldKey);
      if (match) return to(keys, match[1]!, match[2] ?? '');
    }
    return null;
  };
}

/**
 * Moves everything of the old layout to the new one and answers what it did. On a Redis Cluster it
 * does nothing: the old layout's scripts never ran on one (CROSSSLOT).
 */
export async function migrateRedisLayout(redis: RedisClient, keys: RedisKeys, log: LayoutMigrationLog): Promise<LayoutMigrationResult> {
  if (redis instanceof Cluster) return { renamed: 0, indexEntries: 0, conflicts: 0 };
  const tally = { renamed: 0, indexEntries: 0, conflicts: 0, skipped: 0, strays: 0 };
  const p = keys.prefix;

  const toNewName = oldUserKeyMapper(keys);
  for await (const batch of redis.scanStream({ match: `${escapeGlob(p)}*:user:{*`, count: 1000 }) as AsyncIterable<string[]>) {
    const moves: [string, string][] = [];
    for (const key of batch) {
      const to = toNewName(key);
      if (to) moves.push([key, to]);
      else tally.skipped++;
    }
    await renameKeys(redis, moves, log, tally);
  }

  // Members of bulk_pending and bulk_failed are `userId:requestId`, of report_pending the userId.
  const requestOwner = (member: string) => parseRequestMember(member)?.userId;
  const index = (name: string, ofUser: (userId: string) => string, shards: readonly string[]) => ({ key: `${p}${name}`, ofUser, shards });
  await moveSortedSet(redis, index('bulk_pending', keys.bulkPending, keys.bulkPendingShards()), requestOwner, log, tally);
  await moveSortedSet(redis, index('bulk_failed', keys.bulkFailed, keys.bulkFailedShards()), requestOwner, log, tally);
  await moveSortedSet(redis, index('report_pending', keys.reportPending, keys.reportPendingShards()), (member) => member, log, tally);
  await moveList(redis, index('webhook_events', keys.webhookEvents, keys.webhookEventsShards()), log, tally);
  await moveList(redis, index('report_resends', keys.reportResendQueue, keys.reportResendQueueShards()), log, tally);

  const mail: [string, string][] = [
    [`${p}account_mail`, keys.accountMailQueue()],
    [`${p}account_mail_messages`, keys.accountMailMessages()],
    [`${p}account_mail_due`, keys.accountMailDue()],
    [`${p}account_mail_attempts`, keys.accountMailAttempts()],
    [`${p}account_mail_done`, keys.accountMailDone()],
  ];
  const lease = new RegExp(`^${escapeRegExp(p)}account_mail_lease:(${UUID})$`);
  for await (const batch of redis.scanStream({ match: `${escapeGlob(p)}account_mail_lease:*`, count: 1000 }) as AsyncIterable<string[]>) {
    for (const key of batch) {
      const id = lease.exec(key)?.[1];
      if (id) mail.push([key, keys.accountMailLease(id)]);
    }
  }
  await renameKeys(redis, mail, log, tally);

  const { renamed, indexEntries, conflicts } = tally;
  log.info({ ...tally, prefix: p }, 'redis key layout migrated');
  return { renamed, indexEntries, conflicts };
}

type Tally = { renamed: number; indexEntries: number; conflicts: number; strays: number };

async function renameKeys(redis: Redis, moves: readonly [string, string][], log: LayoutMigrationLog, tally: Tally) {
  if (moves.length === 0) return;
  const pipeline = redis.pipeline();
  for (const [from, to] of moves) pipeline.renamenx(from, to);
  const results = (await pipeline.exec()) ?? [];
  results.forEach(([err, moved], i) => {
    const [from, to] = moves[i]!;
    // Gone since the scan (a lease expired, or a second run took it): nothing left to move.
    if (err && /no such key/i.test(err.message)) return;
    if (err) throw err;
    if (moved === 1) tally.renamed++;
    else {
      tally.conflicts++;
      log.warn({ from, to }, 'redis layout migration: the new key already exists; the old one is left in place');
    }
  });
}

/** An old global index and the shards that replace it. */
interface OldIndex {
  key: string;
  ofUser: (userId: string) => string;
  shards: readonly string[];
}

/** The shard of an entry's owner; an entry that names no user goes to shard 0 (logged) rather than being lost. */
function shardFor(index: OldIndex, owner: unknown, entry: string, log: LayoutMigrationLog, tally: Tally): string {
  if (isUuid(owner)) return index.ofUser(owner);
  tally.strays++;
  log.warn({ key: index.key, entry: entry.slice(0, 200) }, 'redis layout migration: an index entry names no user; moved to shard 0');
  return index.shards[0]!;
}

/** Moves an old sorted set's members, scores kept, into their shards; Redis drops the old key once empty. */
async function moveSortedSet(redis: Redis, index: OldIndex, ownerOf: (member: string) => unknown, log: LayoutMigrationLog, tally: Tally) {
  for (;;) {
    const flat = await redis.zrange(index.key, 0, BATCH - 1, 'WITHSCORES');
    if (flat.length === 0) return;
    const byShard = new Map<string, string[]>();
    const members: string[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const [member, score] = [flat[i]!, flat[i + 1]!];
      const shard = shardFor(index, ownerOf(member), member, log, tally);
      byShard.set(shard, [...(byShard.get(shard) ?? []), score, member]);
      members.push(member);
    }
    // NX: a member the new layout already holds keeps its score there (counted as a conflict).
    const tx = redis.multi();
    for (const [shard, pairs] of byShard) tx.zadd(shard, 'NX', ...pairs);
    tx.zrem(index.key, ...members);
    const results = await exec(tx);
    if (results === null) throw new Error(`redis layout migration: the transaction moving ${index.key} was aborted`);
    const added = results.slice(0, byShard.size).reduce<number>((sum, n) => sum + Number(n), 0);
    tally.indexEntries += added;
    if (added < members.length) {
      tally.conflicts += members.length - added;
      log.warn(
        { key: index.key, members: members.length - added },
        'redis layout migration: members already in their shard keep their score there',
      );
    }
  }
}

/**
 * Moves an old list's entries, in order, onto the end of their shard's list (by the entry's `userId`).
 * Each batch is pushed and trimmed off the old list in one MULTI, so a crash or a second run never
 * pushes an entry twice; WATCH (per connection: the migration has its own) makes the batch void if
 * something else changed the old list since it was read (an old process still running), and it is
 * read again.
 */
async function moveList(redis: Redis, index: OldIndex, log: LayoutMigrationLog, tally: Tally) {
  for (let aborted = 0; ; ) {
    await redis.watch(index.key);
    const raws = await redis.lrange(index.key, 0, BATCH - 1);
    if (raws.length === 0) {
      await redis.unwatch();
      return;
    }
    const byShard = new Map<string, string[]>();
    for (const raw of raws) {
      const shard = shardFor(index, ownerOfEntry(raw), raw, log, tally);
      byShard.set(shard, [...(byShard.get(shard) ?? []), raw]);
    }
    const tx = redis.multi();
    for (const [shard, entries] of byShard) tx.rpush(shard, ...entries);
    tx.ltrim(index.key, raws.length, -1);
    if ((await exec(tx)) === null) {
      if (++aborted >= 10) throw new Error(`${index.key} keeps changing while it is migrated: stop every process of the old version first`);
      continue;
    }
    tally.indexEntries += raws.length;
  }
}

function ownerOfEntry(raw: string): unknown {
  try {
    const entry: unknown = JSON.parse(raw);
    return typeof entry === 'object' && entry !== null ? (entry as { userId?: unknown }).userId : undefined;
  } catch {
    return undefined;
  }
}

/** EXEC's replies, the first error thrown; null when a WATCHed key changed (nothing was done). */
async function exec(tx: ChainableCommander): Promise<unknown[] | null> {
  const results = await tx.exec();
  if (results === null) return null;
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
