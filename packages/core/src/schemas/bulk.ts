import Type, { type Static } from 'typebox';
import { ErrorDetailSchema, Nullable, Timestamp } from './common.js';

export const BULK_STAGES = ['queued', 'processing', 'processed_awaiting_report', 'completed', 'failed'] as const;
export const BulkStageSchema = Type.Union([
  Type.Literal('queued'),
  Type.Literal('processing'),
  Type.Literal('processed_awaiting_report'),
  Type.Literal('completed'),
  Type.Literal('failed'),
]);
export type BulkStage = (typeof BULK_STAGES)[number];

/** The request body; items are checked one by one (an invalid item does not fail the request). */
export const bulkSubmitBodySchema = (maxBooks: number) =>
  Type.Object({
    books: Type.Array(Type.Unknown({ description: 'a book as for POST /books' }), {
      minItems: 1,
      maxItems: maxBooks,
      description: `1 to ${maxBooks} books; invalid ones are reported as failed, the rest are queued`,
    }),
  });
export type BulkSubmitBody = { books: unknown[] };

export const BulkAcceptedSchema = Type.Object({
  success: Type.Literal(true),
  message: Type.String(),
  data: Type.Object({
    requestId: Type.String({ format: 'uuid' }),
    queuedBooks: Type.Integer({ description: 'valid books queued for insertion' }),
    invalidBooks: Type.Integer({ description: 'items rejected at once; see GET /books/bulk/{requestId}' }),
    duplicate: Type.Boolean({ description: 'true when this Idempotency-Key was seen before: nothing new was queued' }),
    estimatedProcessingTime: Type.String({ description: 'time until the next bulk worker run, e.g. "2 minutes"' }),
    estimatedReportTime: Type.String({ description: 'time until the report run after that' }),
    estimatedProcessingAt: Timestamp,
    estimatedReportAt: Timestamp,
  }),
});

/**
 * POST /books/bulk's 503: QUEUE_UNAVAILABLE (nothing was queued: true), or QUEUE_OUTCOME_UNKNOWN
 * (Redis did not answer in time) with the requestId to look up before resending.
 */
export const BulkUnavailableSchema = Type.Object({
  success: Type.Literal(false),
  error: Type.String(),
  code: Type.String({ description: 'QUEUE_UNAVAILABLE or QUEUE_OUTCOME_UNKNOWN' }),
  requestId: Type.Optional(Type.String({ description: 'QUEUE_OUTCOME_UNKNOWN: GET /books/bulk/{requestId} says whether it was queued' })),
  details: Type.Optional(Type.Array(ErrorDetailSchema)),
});

export const FailedItemSchema = Type.Object({
  index: Type.Integer({ description: 'position in the submitted books array, from 0' }),
  title: Nullable(Type.String()),
  author: Nullable(Type.String()),
  reason: Type.String(),
});
export type FailedItem = Static<typeof FailedItemSchema>;

/** A request as the API shows it. */
export const BulkRequestSchema = Type.Object({
  requestId: Type.String({ format: 'uuid' }),
  stage: BulkStageSchema,
  submitted: Type.Integer({ description: 'items in the request' }),
  queued: Type.Integer({ description: 'valid items queued for insertion' }),
  inserted: Type.Integer(),
  failed: Type.Integer({ description: 'invalid items plus database rejections (e.g. duplicate ISBN)' }),
  attempts: Type.Integer({ description: 'failed processing attempts so far' }),
  lastError: Nullable(Type.String({ description: "why the last attempt failed, readable; details are in the operators' logs" })),
  lastErrorCode: Nullable(Type.String({ description: 'a machine code for lastError, e.g. DATABASE_UNAVAILABLE' })),
  queuedAt: Timestamp,
  processingStartedAt: Nullable(Timestamp),
  processedAt: Nullable(Timestamp),
  durationMs: Nullable(Type.Integer()),
  nextAttemptAt: Nullable(Timestamp),
  failedAt: Nullable(Timestamp),
  completedAt: Nullable(Timestamp),
  reportMessageId: Nullable(Type.String()),
  reportedAt: Nullable(Timestamp),
  reportError: Nullable(Type.String({ description: 'a failed request whose report could not be delivered: why' })),
});
export type BulkRequest = Static<typeof BulkRequestSchema>;

export const BulkRequestDetailSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Intersect([BulkRequestSchema, Type.Object({ failedItems: Type.Array(FailedItemSchema) })]),
});

export const QueueViewSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Object({
    queued: Type.Boolean({ description: 'a request of yours waits for the bulk worker' }),
    processing: Type.Boolean({ description: 'a request of yours is being inserted now' }),
    stage: Nullable(BulkStageSchema),
    requestId: Nullable(Type.String()),
    totalBooks: Type.Integer({ description: 'latest request: items submitted' }),
    booksCount: Type.Integer({ description: 'latest request: valid items queued' }),
    successCount: Type.Integer({ description: 'latest request: inserted' }),
    failCount: Type.Integer({ description: 'latest request: failed' }),
    queuedAt: Nullable(Timestamp),
    requests: Type.Array(BulkRequestSchema, { description: 'all your requests still on record, newest first' }),
  }),
});

export const AdminStatsSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Object({
    totalUsers: Type.Integer(),
    totalBooks: Type.Integer(),
    pendingBulkJobs: Type.Integer({ description: 'requests queued or being processed' }),
    pendingReports: Type.Integer({ description: 'users with processed requests awaiting their report' }),
    failedRequests: Type.Integer({ description: 'requests that failed, still on record' }),
    oldestPendingAgeSeconds: Nullable(Type.Integer({ description: 'age of the oldest queued request' })),
  }),
});

/** A queued item as stored in Redis: `{ i: index, b: book }`. Re-validated when the worker reads it. */
export const QueuedItemSchema = Type.Object({
  i: Type.Integer({ minimum: 0 }),
  b: Type.Object({
    title: Type.String({ minLength: 1 }),
    author: Type.String({ minLength: 1 }),
    isbn: Type.Optional(Nullable(Type.String())),
    publishedYear: Type.Optional(Nullable(Type.Integer())),
    genre: Type.Optional(Nullable(Type.String())),
  }),
});
export type QueuedItem = Static<typeof QueuedItemSchema>;
