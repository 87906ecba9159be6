// The only code that spells a Redis key. `{userId}` is a Redis Cluster hash tag: every key of one
// user hashes to one slot. The few global indexes (bulk_pending, report_pending, bulk_failed) are
// updated in the same scripts as a user's keys, so the bulk pipeline needs a single Redis
// (standalone or Sentinel), not a Cluster. The namespace prefix is applied here rather than through
// ioredis's keyPrefix, which SCAN ignores.

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

  /** Sorted set, global: `userId:requestId` of every queued or processing request, scored by queued time. */
  bulkPending(): string;
  /** Sorted set, global: users whose bulk_status awaits a report, scored by first processed time. */
  reportPending(): string;
  /** Sorted set, global: `userId:requestId` of failed requests, scored by failure time. */
  bulkFailed(): string;

  /** List, global: a JSON event (`BulkRequestEvent`, schemas/bulk.ts) for every request that reached
   * completed, failed or cancelled, pushed by the transition that moved it there. The report worker
   * drains it into Postgres (webhook deliveries); events of users without a webhook are dropped there. */
  webhookEvents(): string;

  /** List, global: resend requests (JSON `ReportResendRequest`, schemas/reports.ts) pushed by the API,
   * oldest first. The report worker records each on its report row in Postgres, then removes it. */
  reportResendQueue(): string;

  /** Sorted set, global: `kind:id` of every worker replica that sent a heartbeat, scored by when
   * that heartbeat expires (ms); writers trim the expired ones. */
  workers(): string;
  /** String: one worker replica's last heartbeat (JSON `WorkerHeartbeat`, schemas/admin.ts), with a TTL
   * of three heartbeat intervals: a killed worker's disappears by itself. */
  workerHeartbeat(kind: string, workerId: string): string;

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
  const user = (name: string, userId: string) => `${prefix}${name}:user:{${userId}}`;
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

    bulkPending: () => `${prefix}bulk_pending`,
    reportPending: () => `${prefix}report_pending`,
    bulkFailed: () => `${prefix}bulk_failed`,
    webhookEvents: () => `${prefix}webhook_events`,
    reportResendQueue: () => `${prefix}report_resends`,

    workers: () => `${prefix}workers`,
    workerHeartbeat: (kind, workerId) => `${prefix}worker:${kind}:${workerId}`,

    accountMailQueue: () => `${prefix}account_mail`,
    accountMailMessages: () => `${prefix}account_mail_messages`,
    accountMailDue: () => `${prefix}account_mail_due`,
    accountMailAttempts: () => `${prefix}account_mail_attempts`,
    accountMailDone: () => `${prefix}account_mail_done`,
    accountMailLease: (messageId) => `${prefix}account_mail_lease:${messageId}`,
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
