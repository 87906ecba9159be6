// What one report is made of: everything the PDF and the email show, gathered by the report job.
// The schema also guards rendering: an exception inside a react-pdf component reaches the caller
// only as "Cannot read properties of null", so data is checked, field by field, before rendering.
import { FailedItemSchema, Nullable } from '@books/core/schemas';
import Type, { type Static } from 'typebox';

const Count = Type.Integer({ minimum: 0 });
const Timestamp = Type.String({ format: 'date-time' });

export const ReportRequestSchema = Type.Object({
  requestId: Type.String(),
  /**
   * 'failed': the import was given up (BULK_MAX_ATTEMPTS) before every book was tried;
   * 'cancelled': its owner cancelled it (DELETE /books/bulk/:id) and it stopped with what had gone in.
   */
  outcome: Type.Union([Type.Literal('processed'), Type.Literal('failed'), Type.Literal('cancelled')]),
  submitted: Count,
  /** For a failed import: what went in before it stopped. */
  inserted: Count,
  /** Books refused, each with its reason (failedItems). */
  failed: Count,
  /** Books never tried because the import stopped (failed or cancelled): submitted - inserted - failed. */
  notProcessed: Count,
  /** Why a failed import stopped, as the user may read it; null for a processed one. */
  failureReason: Nullable(Type.String()),
  queuedAt: Timestamp,
  processingStartedAt: Nullable(Timestamp),
  processedAt: Nullable(Timestamp),
  failedAt: Nullable(Timestamp),
  /** When a cancelled import stopped (absent or null for the others). */
  cancelledAt: Type.Optional(Nullable(Timestamp)),
  /** Time spent inserting (processing start to processed). */
  durationMs: Nullable(Type.Number({ minimum: 0 })),
  /** The failed items listed in the PDF, ordered by index (all of them, up to a cap per report). */
  failedItems: Type.Array(FailedItemSchema),
  /** Failed items beyond the cap: in the CSV attachment only. */
  failedItemsOmitted: Count,
});
export type ReportRequest = Static<typeof ReportRequestSchema>;

export const ReportDataSchema = Type.Object({
  reportId: Type.String(),
  generatedAt: Timestamp,
  /** IANA time zone in which dates are shown, e.g. "UTC" or "Europe/Paris". */
  timeZone: Type.String(),
  systemName: Type.String(),
  company: Type.Object({ name: Type.String(), address: Type.String() }),
  user: Type.Object({ id: Type.String(), username: Type.String(), email: Type.String() }),
  /** One section each, oldest first. */
  requests: Type.Array(ReportRequestSchema),
  totals: Type.Object({
    submitted: Count,
    inserted: Count,
    failed: Count,
    notProcessed: Count,
    /** Requests that ended failed. */
    failedRequests: Count,
    successRate: Type.Number({ minimum: 0, maximum: 100 }),
  }),
});
export type ReportData = Static<typeof ReportDataSchema>;
