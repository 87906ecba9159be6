// What the admin routes (/admin/*) take and answer. Across users, so they show a request's state
// and counts, never its books.
import Type, { type Static } from 'typebox';
import { BulkStageSchema, PreviousFailureSchema } from './bulk.js';
import { Nullable, Timestamp } from './common.js';
import { WorkerKindStatusSchema } from './workers.js';

export const AdminStatsSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Object({
    totalUsers: Type.Integer(),
    totalBooks: Type.Integer(),
    pendingBulkJobs: Type.Integer({ description: 'requests queued or being processed' }),
    pendingReports: Type.Integer({ description: 'users with processed requests awaiting their report' }),
    failedRequests: Type.Integer({ description: 'requests that failed, still on record' }),
    oldestPendingAgeSeconds: Nullable(Type.Integer({ description: 'age of the oldest queued request' })),
    workers: Type.Object(
      { 'bulk-worker': WorkerKindStatusSchema, 'report-worker': WorkerKindStatusSchema },
      { description: 'live worker replicas per kind, from their heartbeats in Redis' },
    ),
  }),
});

/** A bulk request as an administrator sees it: whose, where it is, why it failed; no book data. */
export const AdminBulkRequestSchema = Type.Object({
  requestId: Type.String({ format: 'uuid' }),
  userId: Type.String({ format: 'uuid' }),
  stage: BulkStageSchema,
  submitted: Type.Integer({ description: 'items in the request' }),
  queued: Type.Integer({ description: 'valid items queued for insertion' }),
  inserted: Type.Integer(),
  failed: Type.Integer({ description: 'items refused (invalid, or by the database)' }),
  remaining: Type.Integer({ description: 'queued items not processed yet: what a retry processes' }),
  attempts: Type.Integer(),
  lastError: Nullable(Type.String()),
  lastErrorCode: Nullable(Type.String()),
  failedAt: Nullable(Timestamp),
  submittedAt: Timestamp,
  retriedAt: Nullable(Timestamp),
  previousFailures: Type.Array(PreviousFailureSchema),
});
export type AdminBulkRequest = Static<typeof AdminBulkRequestSchema>;

/** GET /admin/bulk: failed requests of every user, most recently failed first. */
export const AdminBulkListQuerySchema = Type.Object({
  stage: Type.Literal('failed', { default: 'failed', description: 'the stage listed across users (only failed for now)' }),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
});
export type AdminBulkListQuery = Static<typeof AdminBulkListQuerySchema>;

export const AdminBulkListResponseSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Array(AdminBulkRequestSchema),
  total: Type.Integer({ description: 'failed requests still on record (BULK_RECORD_TTL_DAYS)' }),
  limit: Type.Integer(),
  offset: Type.Integer(),
});

/** POST /admin/bulk/:requestId/retry: 202, the request queued again. */
export const AdminBulkRetryResponseSchema = Type.Object({
  success: Type.Literal(true),
  message: Type.String(),
  data: AdminBulkRequestSchema,
});
