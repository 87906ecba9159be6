// An upgrade from the pre-cluster key layout loses nothing: an old deployment's state, written by
// hand under the old names (`name:user:{userId}`, one key per global index), is under today's names
// after the migrate step, index entries in their shards with their scores, lists in their order,
// and the core functions carry on with it. The old names are spelled here as the old code spelled them.
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createAccountMailOutbox } from '../src/account-mail/outbox.js';
import { findRequestOwner, listFailedRequests } from '../src/bulk/admin.js';
import { listBulkRequests, readBulkRequest } from '../src/bulk/records.js';
import { readReportStatus } from '../src/bulk/report-transitions.js';
import { createBulkWorkerScripts } from '../src/bulk/worker-transitions.js';
import { createRedisKeys, type RedisKeys, requestMember } from '../src/redis/keys.js';
import { migrateRedisLayout, oldUserKeyMapper } from '../src/redis/layout-migration.js';
import { readResendRequests } from '../src/reports/resend-queue.js';
import { peekWebhookEvents } from '../src/webhooks/events.js';
import { redisNamespace } from './redis-namespace.js';

const ns = redisNamespace('layout');
const { redis } = ns;

/** A namespace of each test's own inside the file's (whose cleanup removes it). */
let spaces = 0;
const subspace = () => createRedisKeys(`${ns.prefix}${++spaces}:`);

const logged: { level: string; obj: object; msg: string }[] = [];
const log = {
  info: (obj: object, msg: string) => logged.push({ level: 'info', obj, msg }),
  warn: (obj: object, msg: string) => logged.push({ level: 'warn', obj, msg }),
};

/** The old code's key names. */
const oldNames = (prefix: string) => ({
  user: (name: string, userId: string, suffix = '') => `${prefix}${name}:user:{${userId}}${suffix}`,
  global: (name: string) => `${prefix}${name}`,
});

const t0 = Date.parse('2026-11-30T09:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const items = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ i, b: { title: `Title ${i}`, author: 'Author' } }));
const refused = JSON.stringify({ index: 9, title: null, author: null, reason: 'author is required' });
const record = (userId: string, requestId: string, stage: string, fields: Record<string, string> = {}) => ({
  requestId,
  userId,
  stage,
  submitted: '3',
  queued: '3',
  inserted: '0',
  failed: '0',
  attempts: '0',
  queuedAt: iso(t0),
  nextItem: '0',
  ...fields,
});

interface OldEntry {
  raw: string;
  /** Where the migration must put it. */
  to: string;
}

/**
 * A running deployment's state in the old layout: a queued request (with an Idempotency-Key, a
 * cached page and a file upload being staged), a request being processed under its worker's lease,
 * one processed and awaiting its report, one failed with its books kept, webhook events and resend
 * requests of two users, and account mail queued, in flight and sent. Answers every key written
 * with the name it must have afterwards, and the global indexes' entries with where they go.
 */
async function writeOldDeployment(keys: RedisKeys) {
  const old = oldNames(keys.prefix);
  const [queuedUser, workingUser, reportUser, failedUser] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const [queued, staged, working, voided, processed, failed] = [
    randomUUID(),
    randomUUID(),
    randomUUID(),
    randomUUID(),
    randomUUID(),
    randomUUID(),
  ];
  const [leaseToken, reportToken, resendId, reportId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const moves: [string, string][] = [];
  const at = (oldKey: string, newKey: string) => {
    moves.push([oldKey, newKey]);
    return oldKey;
  };
  const tx = redis.multi();

  tx.hset(
    at(old.user('bulk_request', queuedUser, `:${queued}`), keys.bulkRequest(queuedUser, queued)),
    record(queuedUser, queued, 'queued'),
  );
  tx.rpush(at(old.user('bulk_books', queuedUser), keys.bulkQueue(queuedUser)), queued);
  tx.rpush(at(old.user('bulk_books', queuedUser, `:${queued}`), keys.bulkItems(queuedUser, queued)), ...items(3));
  tx.rpush(at(old.user('bulk_failures', queuedUser, `:${queued}`), keys.bulkFailures(queuedUser, queued)), refused);
  tx.zadd(at(old.user('bulk_requests', queuedUser), keys.bulkHistory(queuedUser)), t0, queued);
  const hash = 'ab'.repeat(16);
  tx.set(at(old.user('bulk_idempotency', queuedUser, `:${hash}`), keys.bulkIdempotency(queuedUser, hash)), queued, 'EX', 86_400);
  tx.hset(at(old.user('books', queuedUser), keys.booksCache(queuedUser)), 'gen', '4', 'limit=20&page=1', '{"data":[],"total":0}');
  tx.expire(old.user('books', queuedUser), 300);
  const staging = old.user('bulk_staging', queuedUser, `:${staged}`);
  tx.hset(at(staging, keys.bulkStaging(queuedUser, staged)), 'batches', '2');
  tx.rpush(at(`${staging}:items`, keys.bulkStagedItems(queuedUser, staged)), ...items(2));
  tx.rpush(at(`${staging}:failures`, keys.bulkStagedFailures(queuedUser, staged)), refused);
  for (const key of [staging, `${staging}:items`, `${staging}:failures`]) tx.expire(key, 3600);

  const startedAt = iso(t0 + 60_000);
  tx.hset(
    at(old.user('bulk_request', workingUser, `:${working}`), keys.bulkRequest(workingUser, working)),
    record(workingUser, working, 'processing', { queuedAt: iso(t0 + 1000), processingStartedAt: startedAt }),
  );
  tx.rpush(at(old.user('bulk_books', workingUser), keys.bulkQueue(workingUser)), working);
  tx.rpush(at(old.user('bulk_books', workingUser, `:${working}`), keys.bulkItems(workingUser, working)), ...items(3));
  tx.zadd(at(old.user('bulk_requests', workingUser), keys.bulkHistory(workingUser)), t0 + 1000, working);
  tx.set(at(old.user('bulk_lease', workingUser), keys.bulkLease(workingUser)), leaseToken, 'PX', 120_000);
  tx.set(at(old.user('bulk_void', workingUser, `:${voided}`), keys.bulkVoid(workingUser, voided)), '1', 'EX', 86_400);

  const processedAt = iso(t0 + 120_000);
  tx.hset(
    at(old.user('bulk_request', reportUser, `:${processed}`), keys.bulkRequest(reportUser, processed)),
    record(reportUser, processed, 'processed_awaiting_report', {
      inserted: '3',
      processedAt,
      durationMs: '40',
      processingStartedAt: startedAt,
    }),
  );
  tx.zadd(at(old.user('bulk_requests', reportUser), keys.bulkHistory(reportUser)), t0 + 2000, processed);
  tx.hset(at(old.user('bulk_status', reportUser), keys.bulkStatus(reportUser)), {
    stage: 'processed_awaiting_report',
    userId: reportUser,
    requestIds: processed,
    firstProcessedAt: processedAt,
    lastProcessedAt: processedAt,
    totalBooks: '3',
    successCount: '3',
    failCount: '0',
  });
  tx.set(at(old.user('report_lease', reportUser), keys.reportLease(reportUser)), reportToken, 'PX', 120_000);
  tx.set(at(old.user('report_resend_throttle', reportUser), keys.reportResendThrottle(reportUser)), resendId, 'PX', 120_000);
  tx.set(
    at(old.user('report_resend_lease', reportUser, `:${resendId}`), keys.reportResendLease(reportUser, resendId)),
    reportToken,
    'PX',
    120_000,
  );

  const failedAt = t0 + 180_000;
  tx.hset(
    at(old.user('bulk_request', failedUser, `:${failed}`), keys.bulkRequest(failedUser, failed)),
    record(failedUser, failed, 'failed', {
      attempts: '5',
      lastError: 'the database was unavailable',
      lastErrorCode: 'DATABASE_UNAVAILABLE',
      failedAt: iso(failedAt),
    }),
  );
  tx.rpush(at(old.user('bulk_books', failedUser, `:${failed}`), keys.bulkItems(failedUser, failed)), ...items(3));
  tx.expire(old.user('bulk_books', failedUser, `:${failed}`), 7 * 86_400);
  tx.zadd(at(old.user('bulk_requests', failedUser), keys.bulkHistory(failedUser)), t0 + 3000, failed);

  const sortedSets = [
    { old: old.global('bulk_pending'), member: requestMember(queuedUser, queued), score: t0, to: keys.bulkPending(queuedUser) },
    { old: old.global('bulk_pending'), member: requestMember(workingUser, working), score: t0 + 1000, to: keys.bulkPending(workingUser) },
    { old: old.global('report_pending'), member: reportUser, score: t0 + 120_000, to: keys.reportPending(reportUser) },
    { old: old.global('bulk_failed'), member: requestMember(failedUser, failed), score: failedAt, to: keys.bulkFailed(failedUser) },
  ];
  for (const { old: key, member, score } of sortedSets) tx.zadd(key, score, member);

  // Two users' events interleaved, and one entry that names no user (it goes to shard 0).
  const event = (userId: string, requestId: string, type: string, ms: number) =>
    JSON.stringify({ type, userId, requestId, at: iso(ms), submitted: 3, inserted: 3, failed: 0 });
  const eventsOf = (userId: string) => keys.webhookEvents(userId);
  const events: OldEntry[] = [
    { raw: event(reportUser, randomUUID(), 'bulk_request.completed', t0 + 10), to: eventsOf(reportUser) },
    { raw: event(failedUser, failed, 'bulk_request.failed', failedAt), to: eventsOf(failedUser) },
    { raw: event(reportUser, randomUUID(), 'bulk_request.cancelled', t0 + 20), to: eventsOf(reportUser) },
    { raw: 'not json {', to: keys.webhookEventsShards()[0]! },
    { raw: event(failedUser, randomUUID(), 'bulk_request.completed', t0 + 30), to: eventsOf(failedUser) },
  ];
  tx.rpush(old.global('webhook_events'), ...events.map(({ raw }) => raw));
  const resend = (userId: string, id: string, report: string, ms: number) =>
    JSON.stringify({ id, userId, reportId: report, requestedAt: iso(ms) });
  const resends: OldEntry[] = [
    { raw: resend(queuedUser, randomUUID(), randomUUID(), t0 + 5), to: keys.reportResendQueue(queuedUser) },
    { raw: resend(reportUser, resendId, reportId, t0 + 6), to: keys.reportResendQueue(reportUser) },
    { raw: resend(queuedUser, randomUUID(), randomUUID(), t0 + 7), to: keys.reportResendQueue(queuedUser) },
  ];
  tx.rpush(old.global('report_resends'), ...resends.map(({ raw }) => raw));

  // Account mail: two messages queued by the API, one in flight under a sender's lease, one sent.
  const mail = (kind: 'verify-email' | 'password-reset') => {
    const id = randomUUID();
    const base = { id, to: `${id.slice(0, 8)}@example.com`, username: 'reader', queuedAt: iso(t0), expiresAt: iso(t0 + 3_600_000) };
    return kind === 'verify-email'
      ? { ...base, kind, link: `https://books.example/auth/verify-email/${id}` }
      : { ...base, kind, code: '123456' };
  };
  const queuedMail = [mail('verify-email'), mail('password-reset')];
  const inFlight = mail('verify-email');
  const sentId = randomUUID();
  tx.rpush(at(old.global('account_mail'), keys.accountMailQueue()), ...queuedMail.map((m) => JSON.stringify(m)));
  tx.hset(at(old.global('account_mail_messages'), keys.accountMailMessages()), inFlight.id, JSON.stringify(inFlight));
  tx.zadd(at(old.global('account_mail_due'), keys.accountMailDue()), t0, inFlight.id);
  tx.hset(at(old.global('account_mail_attempts'), keys.accountMailAttempts()), inFlight.id, '1');
  tx.zadd(at(old.global('account_mail_done'), keys.accountMailDone()), t0 - 1000, sentId);
  tx.set(at(old.global(`account_mail_lease:${inFlight.id}`), keys.accountMailLease(inFlight.id)), randomUUID(), 'PX', 120_000);

  for (const [err] of (await tx.exec()) ?? []) if (err) throw err;
  return {
    moves,
    sortedSets,
    lists: [
      { old: old.global('webhook_events'), shards: keys.webhookEventsShards(), entries: events },
      { old: old.global('report_resends'), shards: keys.reportResendQueueShards(), entries: resends },
    ],
    users: { queuedUser, workingUser, reportUser, failedUser },
    requests: { queued, working, processed, failed },
    leaseToken,
    mail: { queued: queuedMail, inFlight },
  };
}
type OldDeployment = Awaited<ReturnType<typeof writeOldDeployment>>;

async function scan(match: string): Promise<string[]> {
  const found: string[] = [];
  for await (const batch of redis.scanStream({ match, count: 500 }) as AsyncIterable<string[]>) found.push(...batch);
  return [...new Set(found)].sort();
}

/** A key's type, value and whether it expires. */
async function dump(key: string) {
  const type = await redis.type(key);
  const expires = (await redis.pttl(key)) > 0;
  if (type === 'hash') return { type, expires, value: await redis.hgetall(key) };
  if (type === 'list') return { type, expires, value: await redis.lrange(key, 0, -1) };
  if (type === 'zset') return { type, expires, value: await redis.zrange(key, 0, -1, 'WITHSCORES') };
  if (type === 'string') return { type, expires, value: await redis.get(key) };
  return { type, expires, value: null };
}

async function dumpAll(keys: RedisKeys) {
  const state: Record<string, unknown> = {};
  for (const key of await scan(`${keys.prefix}*`)) state[key] = await dump(key);
  return state;
}

const dumpOld = async (state: OldDeployment) =>
  new Map(await Promise.all(state.moves.map(async ([from]) => [from, await dump(from)] as const)));

/** Everything of `state` is under its new name, with the value it had under the old one; nothing is left under an old name. */
async function expectMigrated(keys: RedisKeys, state: OldDeployment, before: Map<string, unknown>) {
  for (const [from, to] of state.moves) {
    expect(await dump(to), `${from} → ${to}`).toEqual(before.get(from));
    expect(await redis.exists(from)).toBe(0);
  }
  for (const { old, member, score, to } of state.sortedSets) {
    expect(await redis.zscore(to, member)).toBe(String(score));
    expect(await redis.exists(old)).toBe(0);
  }
  for (const { old, shards, entries } of state.lists) {
    for (const shard of shards)
      expect(await redis.lrange(shard, 0, -1)).toEqual(entries.filter(({ to }) => to === shard).map(({ raw }) => raw));
    expect(await redis.exists(old)).toBe(0);
  }
  const left = (await scan(`${keys.prefix}*`)).filter((key) => key.includes(':user:{') || key.startsWith(`${keys.prefix}account_mail`));
  expect(left).toEqual([]);
}

const entriesOf = (state: OldDeployment) => state.sortedSets.length + state.lists.reduce((sum, { entries }) => sum + entries.length, 0);

describe('migrating the Redis key layout', () => {
  it('moves every key of an old deployment under its new name and every index entry into its shard; a second run changes nothing', async () => {
    const keys = subspace();
    const state = await writeOldDeployment(keys);
    const before = await dumpOld(state);

    const result = await migrateRedisLayout(redis, keys, log);
    expect(result).toEqual({ renamed: state.moves.length, indexEntries: entriesOf(state), conflicts: 0 });
    await expectMigrated(keys, state, before);
    expect(logged.some(({ level, obj }) => level === 'warn' && (obj as { entry?: string }).entry === 'not json {')).toBe(true);
    expect(logged.at(-1)).toMatchObject({ level: 'info', msg: 'redis key layout migrated', obj: result });

    const migrated = await dumpAll(keys);
    expect(await migrateRedisLayout(redis, keys, log)).toEqual({ renamed: 0, indexEntries: 0, conflicts: 0 });
    expect(await dumpAll(keys)).toEqual(migrated);
  });

  it('after a run that stopped midway, the next one moves the rest and pushes no entry twice', async () => {
    const keys = subspace();
    const state = await writeOldDeployment(keys);
    const before = await dumpOld(state);
    // What an interrupted run leaves: some keys renamed, the first batches of two indexes moved
    // (a batch leaves the old key in the MULTI that adds it to its shard).
    const done = state.moves.filter((_, i) => i % 2 === 0);
    for (const [from, to] of done) await redis.rename(from, to);
    const [firstPending] = state.sortedSets;
    await redis
      .multi()
      .zadd(firstPending!.to, firstPending!.score, firstPending!.member)
      .zrem(firstPending!.old, firstPending!.member)
      .exec();
    const events = state.lists[0]!;
    const tx = redis.multi();
    for (const { raw, to } of events.entries.slice(0, 2)) tx.rpush(to, raw);
    await tx.ltrim(events.old, 2, -1).exec();

    const result = await migrateRedisLayout(redis, keys, log);
    expect(result).toEqual({ renamed: state.moves.length - done.length, indexEntries: entriesOf(state) - 3, conflicts: 0 });
    await expectMigrated(keys, state, before);
  });

  it('leaves an old key in place, counted as a conflict, when its new name already holds something', async () => {
    const keys = subspace();
    const [userId, requestId] = [randomUUID(), randomUUID()];
    const oldKey = oldNames(keys.prefix).user('bulk_request', userId, `:${requestId}`);
    await redis.hset(oldKey, record(userId, requestId, 'queued'));
    await redis.hset(keys.bulkRequest(userId, requestId), record(userId, requestId, 'completed'));

    for (let run = 0; run < 2; run++) {
      expect(await migrateRedisLayout(redis, keys, log)).toEqual({ renamed: 0, indexEntries: 0, conflicts: 1 });
      expect(await redis.hget(oldKey, 'stage')).toBe('queued');
      expect(await redis.hget(keys.bulkRequest(userId, requestId), 'stage')).toBe('completed');
    }
  });

  it('hands the core functions the migrated work: a queued request, a worker carrying on under its lease, reports, failures, events, resends, mail', async () => {
    const keys = subspace();
    const state = await writeOldDeployment(keys);
    await migrateRedisLayout(redis, keys, log);
    const { queuedUser, workingUser, reportUser, failedUser } = state.users;
    const { queued, working, processed, failed } = state.requests;

    expect(await readBulkRequest(redis, keys, queuedUser, queued)).toMatchObject({ stage: 'queued', queued: 3 });
    expect((await listBulkRequests(redis, keys, queuedUser)).map((r) => r.requestId)).toEqual([queued]);

    // The worker that held the lease before the upgrade finishes its request with the same token.
    const worker = createBulkWorkerScripts(redis, keys, { leaseMs: 30_000, cacheTtlMs: 60_000, recordTtlSeconds: 3600 });
    expect(await worker.recordProgress(workingUser, working, state.leaseToken, { from: 0, to: 3, inserted: 3, failures: [] })).toBe(
      'recorded',
    );
    expect(await worker.finalize(workingUser, working, state.leaseToken, new Date(t0 + 90_000), 30_000)).toBe('processed');
    expect(await redis.zscore(keys.bulkPending(workingUser), requestMember(workingUser, working))).toBeNull();
    expect(await readReportStatus(redis, keys, workingUser)).toMatchObject({ requestIds: [working] });

    expect(await readReportStatus(redis, keys, reportUser)).toMatchObject({ requestIds: [processed] });
    expect(await findRequestOwner(redis, keys, failed)).toBe(failedUser);
    expect(await findRequestOwner(redis, keys, queued)).toBe(queuedUser);
    const failures = await listFailedRequests(redis, keys, { limit: 10, offset: 0, now: new Date(t0 + 200_000), recordTtlSeconds: 86_400 });
    expect(failures.records.map((r) => r.requestId)).toEqual([failed]);

    const events = await peekWebhookEvents(redis, keys, 10);
    expect(events.map(({ raw }) => raw).sort()).toEqual(state.lists[0]!.entries.map(({ raw }) => raw).sort());
    expect(events.filter(({ event }) => event === null).map(({ raw }) => raw)).toEqual(['not json {']);
    const resends = await readResendRequests(redis, keys, 10);
    expect(resends.map(({ raw }) => raw).sort()).toEqual(state.lists[1]!.entries.map(({ raw }) => raw).sort());

    const outbox = createAccountMailOutbox(redis, keys);
    const due = await outbox.claimDue(new Date(t0 + 1000), 10);
    expect(due.sort()).toEqual([state.mail.inFlight.id, ...state.mail.queued.map((m) => m.id)].sort());
    expect(await outbox.read(state.mail.inFlight.id)).toMatchObject({ mail: state.mail.inFlight, attempts: 1 });
  });

  it('does nothing on a Redis Cluster, where the old layout never ran', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      expect(await migrateRedisLayout(cluster, createRedisKeys('p:'), log)).toEqual({ renamed: 0, indexEntries: 0, conflicts: 0 });
    } finally {
      cluster.disconnect();
    }
  });
});

// Prefixes as deployments set them: empty, or ending in `:` (so that no prefix plus a key name is
// another prefix plus another name).
const prefixArb = fc.oneof(fc.constant(''), fc.stringMatching(/^[A-Za-z0-9:_.-]{0,12}:$/));
const hashArb = fc.oneof(fc.constant('-'), fc.stringMatching(/^[0-9a-f]{32}$/));

/** Each old shape of a user's key, by the old spelling, with the builder of its new name. */
const shapes = (userId: string, id: string, hash: string): [(prefix: string) => string, (keys: RedisKeys) => string][] => {
  const o =
    (name: string, suffix = '') =>
    (prefix: string) =>
      oldNames(prefix).user(name, userId, suffix);
  return [
    [o('books'), (k) => k.booksCache(userId)],
    [o('bulk_books'), (k) => k.bulkQueue(userId)],
    [o('bulk_books', `:${id}`), (k) => k.bulkItems(userId, id)],
    [o('bulk_request', `:${id}`), (k) => k.bulkRequest(userId, id)],
    [o('bulk_failures', `:${id}`), (k) => k.bulkFailures(userId, id)],
    [o('bulk_requests'), (k) => k.bulkHistory(userId)],
    [o('bulk_status'), (k) => k.bulkStatus(userId)],
    [o('bulk_lease'), (k) => k.bulkLease(userId)],
    [o('bulk_idempotency', `:${hash}`), (k) => k.bulkIdempotency(userId, hash)],
    [o('bulk_void', `:${id}`), (k) => k.bulkVoid(userId, id)],
    [o('report_lease'), (k) => k.reportLease(userId)],
    [o('report_resend_throttle'), (k) => k.reportResendThrottle(userId)],
    [o('report_resend_lease', `:${id}`), (k) => k.reportResendLease(userId, id)],
    [o('bulk_staging', `:${id}`), (k) => k.bulkStaging(userId, id)],
    [o('bulk_staging', `:${id}:items`), (k) => k.bulkStagedItems(userId, id)],
    [o('bulk_staging', `:${id}:failures`), (k) => k.bulkStagedFailures(userId, id)],
  ];
};

describe('the old-name to new-name mapping', () => {
  it("maps every old name onto the key builders' name of the same user, and no other prefix's key onto anything", () => {
    fc.assert(
      fc.property(prefixArb, prefixArb, fc.uuid(), fc.uuid(), hashArb, (prefix, other, userId, id, hash) => {
        const keys = createRedisKeys(prefix);
        const map = oldUserKeyMapper(keys);
        for (const [oldName, newName] of shapes(userId, id, hash)) {
          expect(map(oldName(prefix))).toBe(newName(keys));
          if (other !== prefix) expect(map(oldName(other))).toBeNull();
          // Nor a key of today's layout, nor an old one with something after it.
          expect(map(newName(keys))).toBeNull();
          expect(map(`${oldName(prefix)}:x`)).toBeNull();
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never touches another prefix's keys on a real Redis", async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9_.-]{1,8}:$/), fc.uuid(), fc.uuid(), hashArb, async (otherTail, userId, id, hash) => {
        const keys = subspace();
        const other = `${keys.prefix}${otherTail}`;
        const written = shapes(userId, id, hash).map(([oldName]) => oldName(other));
        const globals = ['bulk_pending', 'webhook_events', 'account_mail'].map((name) => oldNames(other).global(name));
        const tx = redis.multi();
        for (const key of written) tx.set(key, key);
        tx.zadd(globals[0]!, 1, requestMember(userId, id)).rpush(globals[1]!, JSON.stringify({ userId })).rpush(globals[2]!, '{}');
        tx.set(oldNames(keys.prefix).user('bulk_lease', userId), 'ours');
        await tx.exec();
        const before = await dumpAll(createRedisKeys(other));

        expect(await migrateRedisLayout(redis, keys, log)).toEqual({ renamed: 1, indexEntries: 0, conflicts: 0 });
        expect(await redis.get(keys.bulkLease(userId))).toBe('ours');
        expect(await dumpAll(createRedisKeys(other))).toEqual(before);
      }),
      { numRuns: 15 },
    );
  });

  it("with an empty prefix, moves the deployment's keys and none of a prefixed namespace's", async () => {
    // A database of its own on the shared server: an empty prefix would otherwise reach other files' keys.
    const db = new Redis(`${process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'}/11`);
    const keys = createRedisKeys('');
    const [userId, requestId] = [randomUUID(), randomUUID()];
    const otherPrefix = `t:layout-other:${randomBytes(4).toString('hex')}:`;
    const ours = oldNames('').user('bulk_request', userId, `:${requestId}`);
    const theirs = [oldNames(otherPrefix).user('bulk_request', userId, `:${requestId}`), oldNames(otherPrefix).user('bulk_books', userId)];
    try {
      await db.hset(ours, record(userId, requestId, 'queued'));
      for (const key of theirs) await db.set(key, 'theirs');
      expect(await migrateRedisLayout(db, keys, log)).toMatchObject({ renamed: 1, conflicts: 0 });
      expect(await db.hget(keys.bulkRequest(userId, requestId), 'stage')).toBe('queued');
      for (const key of theirs) expect(await db.get(key)).toBe('theirs');
    } finally {
      await db.del(ours, keys.bulkRequest(userId, requestId), ...theirs);
      db.disconnect();
    }
  });
});
