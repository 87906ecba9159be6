import Type, { type Static } from 'typebox';
import { ErrorDetailSchema, Nullable, Timestamp } from './common.js';

/** The stages of a bulk request, listed here only; which may follow which is bulk/stage-machine.ts. */
export const BulkStageSchema = Type.Union([
  Type.Literal('queued'),
  Type.Literal('processing'),
  Type.Literal('processed_awaiting_report'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);
export type BulkStage = Static<typeof BulkStageSchema>;
export const BULK_STAGES: readonly BulkStage[] = BulkStageSchema.anyOf.map((stage) => stage.const);

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
    ignoredColumns: Type.Optional(
      Type.Array(Type.String(), {
        description: 'CSV: the header columns that name no field of a book, as written; their cells were ignored',
      }),
    ),
    uploadId: Type.Optional(
      Type.String({ format: 'uuid', description: 'POST /books/upload: the requestId, for GET /books/upload/{uploadId}' }),
    ),
  }),
});

/** One item's verdict in a dry run: would it go in, and if not, why (the worker's wording for duplicates). */
export const BulkVerdictSchema = Type.Object({
  index: Type.Integer({ description: "the item's position in the import (0-based)" }),
  row: Type.Optional(Type.Integer({ description: 'files: the row as a spreadsheet shows it (header = 1)' })),
  ok: Type.Boolean(),
  column: Type.Optional(Type.String({ description: 'the field or column a refusal is about' })),
  reason: Type.Optional(Type.String()),
});
export type BulkVerdict = Static<typeof BulkVerdictSchema>;

/** POST /books/bulk?dryRun=true: nothing is queued. */
export const BulkDryRunSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Object({
    dryRun: Type.Literal(true),
    submitted: Type.Integer(),
    valid: Type.Integer({ description: 'items that would go in' }),
    invalid: Type.Integer({ description: 'items that would fail, duplicates of the collection or of the import included' }),
    ignoredColumns: Type.Optional(Type.Array(Type.String())),
    items: Type.Array(BulkVerdictSchema, { description: 'one verdict per item, in order' }),
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
  index: Type.Integer({ description: 'position among the submitted items, from 0 (the books array, or the data rows of a file)' }),
  title: Nullable(Type.String()),
  author: Nullable(Type.String()),
  reason: Type.String(),
  row: Type.Optional(
    Type.Integer({ minimum: 1, description: 'CSV: the row in the file as a spreadsheet numbers it (header = row 1); NDJSON: the line' }),
  ),
  column: Type.Optional(Type.String({ description: 'the column (or field) the reason is about, when it is about one' })),
  submitted: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description: 'the item as submitted, every value as text (echoed by the failures CSV)',
    }),
  ),
});
export type FailedItem = Static<typeof FailedItemSchema>;

/**
 * An earlier failure of a request that an administrator put back in the queue (POST
 * /admin/bulk/:id/retry): what the record said when it was failed, kept on the record.
 */
export const PreviousFailureSchema = Type.Object({
  failedAt: Nullable(Timestamp),
  attempts: Type.Integer({ minimum: 0, description: 'attempts made before it failed' }),
  lastError: Nullable(Type.String()),
  lastErrorCode: Nullable(Type.String()),
  reportedAt: Nullable(Type.String({ format: 'date-time', description: 'when its owner was emailed about the failure' })),
  retriedAt: Timestamp,
});
export type PreviousFailure = Static<typeof PreviousFailureSchema>;

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
  cancelRequestedAt: Nullable(
    Type.String({
      format: 'date-time',
      description: 'when DELETE /books/bulk/{requestId} asked to cancel it (processing: it stops at the next chunk)',
    }),
  ),
  cancelledAt: Nullable(Type.String({ format: 'date-time', description: 'when it became cancelled' })),
  retriedAt: Nullable(
    Type.String({ format: 'date-time', description: 'when an administrator last put it back in the queue after it failed' }),
  ),
  previousFailures: Type.Array(PreviousFailureSchema, {
    description: 'its failures before each re-drive, oldest first (attempts restart from 0 at each)',
  }),
});
export type BulkRequest = Static<typeof BulkRequestSchema>;

export const BulkRequestDetailSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Intersect([
    BulkRequestSchema,
    Type.Object({
      failedItems: Type.Array(FailedItemSchema, {
        description: 'the first failed items (up to BULK_MAX_BOOKS), by index; all of them are at failuresUrl',
      }),
      failedItemsTotal: Type.Integer({ description: 'how many items failed in all' }),
      failuresUrl: Type.String({ description: 'every failed item, paged: GET /books/bulk/{requestId}/failures (or failures.csv)' }),
    }),
  ]),
});

/** GET /books/bulk: the caller's requests, newest first. */
export const BulkListQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  stage: Type.Optional(BulkStageSchema),
});
export type BulkListQuery = Static<typeof BulkListQuerySchema>;

export const BulkListResponseSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Array(BulkRequestSchema),
  total: Type.Integer({ description: 'requests on record (with the stage asked for, if any)' }),
  limit: Type.Integer(),
  offset: Type.Integer(),
});

/** GET /books/bulk/:id/failures: one page of the failed items, in stored order. */
export const FailuresQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  offset: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 }),
});
export type FailuresQuery = Static<typeof FailuresQuerySchema>;

export const FailuresPageSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Array(FailedItemSchema, {
    description: 'stored order: items refused on submit first (by index), then those the database refused, chunk by chunk',
  }),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
});

/** DELETE /books/bulk/:id. */
export const BulkCancelResponseSchema = Type.Object({
  success: Type.Literal(true),
  message: Type.String(),
  data: BulkRequestSchema,
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

/** `webhook_events`: a request reached a final stage. Written by the transition scripts (Lua), read by the report worker. */
export const BulkRequestEventSchema = Type.Object({
  type: Type.Union([Type.Literal('bulk_request.completed'), Type.Literal('bulk_request.failed'), Type.Literal('bulk_request.cancelled')]),
  userId: Type.String({ minLength: 1 }),
  requestId: Type.String({ minLength: 1 }),
  /** When the request reached the stage (ISO 8601). */
  at: Type.String({ minLength: 1 }),
  submitted: Type.Integer({ minimum: 0 }),
  inserted: Type.Integer({ minimum: 0 }),
  failed: Type.Integer({ minimum: 0 }),
});
export type BulkRequestEvent = Static<typeof BulkRequestEventSchema>;

/** A queued item as stored in Redis: `{ i: index, b: book, r?: row in the file }`. Re-validated when the worker reads it. */
export const QueuedItemSchema = Type.Object({
  i: Type.Integer({ minimum: 0 }),
  r: Type.Optional(Type.Integer({ minimum: 1 })),
  b: Type.Object({
    title: Type.String({ minLength: 1 }),
    author: Type.String({ minLength: 1 }),
    isbn: Type.Optional(Nullable(Type.String())),
    publishedYear: Type.Optional(Nullable(Type.Integer())),
    genre: Type.Optional(Nullable(Type.String())),
  }),
});
export type QueuedItem = Static<typeof QueuedItemSchema>;

// Hashes written to Redis by one process and read back by another, described as read: every value
// a string. bulk/records.ts and bulk/report-transitions.ts check them, then convert.
const Count = Type.String({ pattern: '^[0-9]+$' });
const Present = Type.String({ minLength: 1 });

/** `bulk_request:{shard}:user:<id>:<requestId>`: one request's record. */
export const BulkRecordHashSchema = Type.Object({
  requestId: Present,
  userId: Present,
  stage: BulkStageSchema,
  submitted: Count,
  queued: Count,
  inserted: Count,
  failed: Count,
  attempts: Count,
  queuedAt: Present,
  /** Index into the items list of the next item to insert (the worker's cursor). */
  nextItem: Count,
  lastError: Type.Optional(Type.String()),
  lastErrorCode: Type.Optional(Type.String()),
  processingStartedAt: Type.Optional(Type.String()),
  processedAt: Type.Optional(Type.String()),
  durationMs: Type.Optional(Type.String()),
  nextAttemptAt: Type.Optional(Type.String()),
  failedAt: Type.Optional(Type.String()),
  completedAt: Type.Optional(Type.String()),
  reportMessageId: Type.Optional(Type.String()),
  reportedAt: Type.Optional(Type.String()),
  /** Why the report of a request that had already failed could not be delivered. */
  reportError: Type.Optional(Type.String()),
  /** DELETE /books/bulk/:id while processing: the worker stops at the next chunk boundary. */
  cancelRequestedAt: Type.Optional(Type.String()),
  cancelledAt: Type.Optional(Type.String()),
  /** The W3C traceparent of the submit, when it was traced: the workers' spans join its trace. */
  traceparent: Type.Optional(Type.String()),
  /** POST /admin/bulk/:id/retry: when it was last put back in the queue (also makes a replay of it answer the same). */
  retriedAt: Type.Optional(Type.String()),
  /** JSON: an array of PreviousFailureSchema, one per re-drive, written by REDRIVE (Lua) and checked when read. */
  previousFailures: Type.Optional(Type.String()),
});
export type BulkRecordHash = Static<typeof BulkRecordHashSchema>;

/** `bulk_status:{shard}:user:<id>`: the finished requests awaiting this user's report, as the report worker reads it. */
export const ReportStatusHashSchema = Type.Object({
  stage: Type.Literal('processed_awaiting_report'),
  /** Comma-separated request ids. */
  requestIds: Present,
  reportAttempts: Type.Optional(Type.String()),
  nextAttemptAt: Type.Optional(Type.String()),
  sentReportId: Type.Optional(Type.String()),
  sentMessageId: Type.Optional(Type.String()),
  sentRequestIds: Type.Optional(Type.String()),
  reportId: Type.Optional(Type.String()),
});
export type ReportStatusHash = Static<typeof ReportStatusHashSchema>;
