// The only code that spells a Redis key. Every key of one user carries the hash tag of the user's
// shard (`{s3.20}`), and so do that shard's global indexes (bulk_pending, report_pending, bulk_failed,
// webhook_events, report_resends): a script that moves a user's request and updates an index touches
// one slot, which Redis Cluster requires, and stays atomic. The account-mail keys share one tag of
// their own. A standalone Redis holds the same layout. The namespace prefix is applied here rather
// than through ioredis's keyPrefix, which SCAN ignores; it must not contain a brace (see config).
import keySlot from 'cluster-key-slot';

/**
 * How many shards the global indexes are split into. Fixed: it decides where every user's keys
 * live, so changing it would move them all.
 */
export const REDIS_SHARDS = 16;

/**
 * Shard i's hash tag: the first `s<i>` or `s<i>.<n>` whose slot lies in the i-th sixteenth of the
 * 16384 slots (checked by a test), so that the shards spread evenly over a cluster whose masters
 * hold equal slot ranges, as `redis-cli --cluster create` makes them.
 */
export const SHARD_TAGS: readonly string[] = [
  's0.10',
  's1.13',
  's2',
  's3.20',
  's4.4',
  's5.3',
  's6.40',
  's7.43',
  's8.23',
  's9.20',
  's10.22',
  's11.21',
  's12.2',
  's13.1',
  's14.41',
  's15.42',
];

/** The shard a user's keys and index entries live in (CRC16 of the id, as Redis hashes keys). */
export function shardOf(userId: string): number {
  return keySlot(userId) % REDIS_SHARDS;
}

export interface RedisKeys {
  readonly prefix: string;
  /** Hash: one field per normalised GET /books query, plus `gen` (see books-cache.ts). */
  booksCache(userId: string): string;
  /** Namespace handed to @fastify/rate-limit, which appends the client key itself. */
  rateLimitNamespace(): string;

  /** List: the user's request ids waiting for the bulk worker, oldest first. No TTL. */
  bulkQueue(userId: string): string;
  /** List: one request's valid books still to insert, as JSON `{ i, b }` (item index, book). No TTL while
   * queued; a failed request's stay as long as its record, for an administrator's re-drive. */
  bulkItems(userId: string, requestId: string): string;
  /** Hash: one request's record (stage, counts, timestamps, attempts, last error). */
  bulkRequest(userId: string, requestId: string): string;
  /** List: one request's failed items as JSON `{ index, title, author, reason }`. */
  bulkFailures(userId: string, requestId: string): string;
  /** Sorted set: all of the user's request ids, scored by queued time (ms). */
  bulkHistory(userId: string): string;
  /** Hash: what awaits a report for this user (stage processed_awaiting_report), read by the report worker. */
  bulkStatus(userId: string): string;
  /** String: the bulk worker's lease on this user's queue (a random token, PX expiry). */
  bulkLease(userId: string): string;
  /** String: request id answered for an Idempotency-Key (hashed), for 24 hours. */
  bulkIdempotency(userId: string, keyHash: string): string;
  /** String: marks a request id whose submit answer was lost and that was found not stored; a late
   * or re-sent submit of it stores nothing. 24 hours. */
  bulkVoid(userId: string, requestId: string): string;
  /** String: the report worker's lease on this user's report (a random token, PX expiry). */
  reportLease(userId: string): string;
  /** String: the id of the user's last resend request (POST /reports/:id/resend); while it lives the
   * user may ask for no other. PX expiry (the throttle window). */
  reportResendThrottle(userId: string): string;
  /** String: a report worker's lease on resending one stored report (a random token, PX expiry). */
  reportResendLease(userId: string, reportId: string): string;

  /** Hash: a file upload being staged (POST /books/bulk with CSV or NDJSON): `batches` appended so far.
   * The three staging keys share the upload's TTL, renewed by each batch, so an abandoned upload disappears. */
  bulkStaging(userId: string, requestId: string): string;
  /** List: the staged upload's valid books, as bulkItems will hold them once committed. TTL: see bulkStaging. */
  bulkStagedItems(userId: string, requestId: string): string;
  /** List: the staged upload's failed rows, as bulkFailures will hold them once committed. TTL: see bulkStaging. */
  bulkStagedFailures(userId: string, requestId: string): string;

  // The global indexes, one key per shard: `x(userId)` is the shard holding that user's entries,
  // `xShards()` every shard, for the readers that scan them all.
  /** Sorted set per shard: `userId:requestId` of every queued or processing request, scored by queued time. */
  bulkPending(userId: string): string;
  bulkPendingShards(): readonly string[];
  /** Sorted set per shard: users whose bulk_status awaits a report, scored by first processed time. */
  reportPending(userId: string): string;
  reportPendingShards(): readonly string[];
  /** Sorted set per shard: `userId:requestId` of failed requests, scored by failure time. */
  bulkFailed(userId: string): string;
  bulkFailedShards(): readonly string[];

  /** List per shard: a JSON event (`BulkRequestEvent`, schemas/bulk.ts) for every request that reached
   * completed, failed or cancelled, pushed by the transition that moved it there. The report worker
   * drains it into Postgres (webhook deliveries); events of users without a webhook are dropped there. */
  webhookEvents(userId: string): string;
  webhookEventsShards(): readonly string[];

  /** List per shard: resend requests (JSON `ReportResendRequest`, schemas/reports.ts) pushed by the API,
   * oldest first. The report worker records each on its report row in Postgres, then removes it. */
  reportResendQueue(userId: string): string;
  reportResendQueueShards(): readonly string[];

  /** Sorted set, global: `kind:id` of every worker replica that sent a heartbeat, scored by when
   * that heartbeat expires (ms); writers trim the expired ones. */
  workers(): string;
  /** String: one worker replica's last heartbeat (JSON `WorkerHeartbeat`, schemas/admin.ts), with a TTL
   * of three heartbeat intervals: a killed worker's disappears by itself. */
  workerHeartbeat(kind: string, workerId: string): string;

  // The account-mail keys share the tag `{account_mail}`: the outbox's scripts touch several at once.
  /** List, global: account emails (verification, password reset) queued by the API, as JSON, oldest first.
   * The report worker moves them into the three keys below as soon as it sees them. */
  accountMailQueue(): string;
  /** Hash, global: message id → the message (JSON) being sent or awaiting a retry. Holds secrets: deleted once sent or dropped. */
  accountMailMessages(): string;
  /** Sorted set, global: message id → when it may next be tried (ms). */
  accountMailDue(): string;
  /** Hash, global: message id → attempts made so far. */
  accountMailAttempts(): string;
  /** Sorted set, global: ids sent or dropped in the last 24 hours, scored by that time (ms); a second copy of one is not sent. */
  accountMailDone(): string;
  /** String: a report worker's lease on sending one message (a random token, PX expiry). */
  accountMailLease(messageId: string): string;
}

export function createRedisKeys(prefix = ''): RedisKeys {
  const tagged = SHARD_TAGS.map((tag) => `{${tag}}`);
  const user = (name: string, userId: string) => `${prefix}${name}:${tagged[shardOf(userId)]}:user:${userId}`;
  const index = (name: string) => {
    const shards = tagged.map((tag) => `${prefix}${name}:${tag}`);
    return { ofUser: (userId: string) => shards[shardOf(userId)]!, all: () => shards };
  };
  const pending = index('bulk_pending');
  const reportPending = index('report_pending');
  const failed = index('bulk_failed');
  const webhookEvents = index('webhook_events');
  const resends = index('report_resends');
  const mail = `${prefix}{account_mail}`;
  return {
    prefix,
    booksCache: (userId) => user('books', userId),
    rateLimitNamespace: () => `${prefix}rate_limit:`,

    bulkQueue: (userId) => user('bulk_books', userId),
    bulkItems: (userId, requestId) => `${user('bulk_books', userId)}:${requestId}`,
    bulkRequest: (userId, requestId) => `${user('bulk_request', userId)}:${requestId}`,
    bulkFailures: (userId, requestId) => `${user('bulk_failures', userId)}:${requestId}`,
    bulkHistory: (userId) => user('bulk_requests', userId),
    bulkStatus: (userId) => user('bulk_status', userId),
    bulkLease: (userId) => user('bulk_lease', userId),
    bulkIdempotency: (userId, keyHash) => `${user('bulk_idempotency', userId)}:${keyHash}`,
    bulkVoid: (userId, requestId) => `${user('bulk_void', userId)}:${requestId}`,
    reportLease: (userId) => user('report_lease', userId),
    reportResendThrottle: (userId) => user('report_resend_throttle', userId),
    reportResendLease: (userId, reportId) => `${user('report_resend_lease', userId)}:${reportId}`,

    bulkStaging: (userId, requestId) => `${user('bulk_staging', userId)}:${requestId}`,
    bulkStagedItems: (userId, requestId) => `${user('bulk_staging', userId)}:${requestId}:items`,
    bulkStagedFailures: (userId, requestId) => `${user('bulk_staging', userId)}:${requestId}:failures`,

    bulkPending: pending.ofUser,
    bulkPendingShards: pending.all,
    reportPending: reportPending.ofUser,
    reportPendingShards: reportPending.all,
    bulkFailed: failed.ofUser,
    bulkFailedShards: failed.all,
    webhookEvents: webhookEvents.ofUser,
    webhookEventsShards: webhookEvents.all,
    reportResendQueue: resends.ofUser,
    reportResendQueueShards: resends.all,

    workers: () => `${prefix}workers`,
    workerHeartbeat: (kind, workerId) => `${prefix}worker:${kind}:${workerId}`,

    accountMailQueue: () => mail,
    accountMailMessages: () => `${mail}_messages`,
    accountMailDue: () => `${mail}_due`,
    accountMailAttempts: () => `${mail}_attempts`,
    accountMailDone: () => `${mail}_done`,
    accountMailLease: (messageId) => `${mail}_lease:${messageId}`,
  };
}

/** Members of the global request indexes: `userId:requestId` (both uuids, so the colon is unambiguous). */
export const requestMember = (userId: string, requestId: string) => `${userId}:${requestId}`;
export function parseRequestMember(member: string): { userId: string; requestId: string } | null {
  const [userId, requestId, extra] = member.split(':');
  return userId && requestId && extra === undefined ? { userId, requestId } : null;
}

/** Lua: the same member encoding, for scripts that build members themselves. */
export const REQUEST_MEMBER_LUA = `
local function request_member(user_id, request_id)
  return user_id .. ':' .. request_id
end`;
