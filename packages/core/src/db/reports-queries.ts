// The stored reports (table `reports`): written by the report worker around each send and resend,
// read by the API. A report is live until its expires_at, and never longer than the retention in
// force (REPORT_RETENTION_DAYS): shortening it hides older reports at once, before the worker's
// next pass deletes them.
import { and, arrayContains, desc, eq, getTableColumns, gt, lt, lte, or, sql } from 'drizzle-orm';
import type { ReportResendRequest } from '../schemas/reports.js';
import type { Database } from './client.js';
import { type ReportRow, reports, users } from './schema.js';

/** A report's row without its PDF: what lists and metadata read. */
export type ReportMeta = Omit<ReportRow, 'pdf'>;

const { pdf: _pdf, ...metaColumns } = getTableColumns(reports);

const live = (now: Date, retentionMs: number) =>
  and(gt(reports.expiresAt, now), gt(reports.createdAt, new Date(now.getTime() - retentionMs)));

/** When the report stops being served: its own expiry, or the retention in force if that is sooner. */
export const reportExpiresAt = (row: Pick<ReportRow, 'createdAt' | 'expiresAt'>, retentionMs: number): Date =>
  new Date(Math.min(row.expiresAt.getTime(), row.createdAt.getTime() + retentionMs));

export interface ReportToSend {
  id: string;
  userId: string;
  requestIds: string[];
  messageId: string;
  recipient: string;
  subject: string;
  filename: string;
  pdf: Buffer;
  now: Date;
  retentionMs: number;
}

/**
 * Before the SMTP send: the report with the PDF about to be attached, state `sending`. The id is
 * derived from the user and the requests, so a retried send (or one after a crash) updates the
 * same row with the PDF of that attempt, never a second row.
 */
export async function saveReportSending(db: Database, report: ReportToSend): Promise<void> {
  const values = {
    id: report.id,
    userId: report.userId,
    requestIds: report.requestIds,
    messageId: report.messageId,
    recipient: report.recipient,
    subject: report.subject,
    filename: report.filename,
    pdf: report.pdf,
    pdfBytes: report.pdf.length,
    deliveryState: 'sending' as const,
    createdAt: report.now,
    expiresAt: new Date(report.now.getTime() + report.retentionMs),
  };
  const { id: _id, userId: _userId, createdAt: _createdAt, ...changed } = values;
  await db
    .insert(reports)
    .values(values)
    .onConflictDoUpdate({ target: reports.id, set: { ...changed, deliveryError: null, deliveredAt: null } });
}

/** The mail server accepted it. Idempotent: the clean-up after a crash records it again. */
export async function markReportSent(db: Database, id: string, sent: { messageId: string; sentAt: Date }): Promise<void> {
  await db
    .update(reports)
    .set({
      deliveryState: 'sent',
      messageId: sent.messageId,
      // Recorded again by a clean-up: the first time stands.
      deliveredAt: sql`coalesce(${reports.deliveredAt}, ${sent.sentAt.toISOString()}::timestamptz)`,
      deliveryError: null,
    })
    .where(eq(reports.id, id));
}

/** An attempt failed: `gaveUp` marks it failed, otherwise it stays `sending` (a retry follows). */
export async function recordReportDeliveryFailure(db: Database, id: string, failure: { error: string; gaveUp: boolean }): Promise<void> {
  await db
    .update(reports)
    .set(failure.gaveUp ? { deliveryState: 'failed', deliveryError: failure.error } : { deliveryError: failure.error })
    // A report recorded sent stays sent (a stale failure must not undo it).
    .where(and(eq(reports.id, id), sql`${reports.deliveryState} <> 'sent'`));
}

/** Deletes up to `limit` reports past their expiry or the retention; returns how many. */
export async function deleteExpiredReports(db: Database, now: Date, retentionMs: number, limit: number): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionMs);
  const expired = db
    .select({ id: reports.id })
    .from(reports)
    .where(or(lte(reports.expiresAt, now), lt(reports.createdAt, cutoff)))
    .limit(limit);
  const deleted = await db.delete(reports).where(sql`${reports.id} in (${expired})`).returning({ id: reports.id });
  return deleted.length;
}

interface Visible {
  userId: string;
  now: Date;
  retentionMs: number;
}

/** The user's live reports, newest first, without PDFs. */
export async function listReports(
  db: Database,
  v: Visible & { limit: number; offset: number },
): Promise<{ rows: ReportMeta[]; total: number }> {
  const where = and(eq(reports.userId, v.userId), live(v.now, v.retentionMs));
  const [rows, [count]] = await Promise.all([
    db.select(metaColumns).from(reports).where(where).orderBy(desc(reports.createdAt), desc(reports.id)).limit(v.limit).offset(v.offset),
    db.select({ n: sql<number>`count(*)::int` }).from(reports).where(where),
  ]);
  return { rows, total: count?.n ?? 0 };
}

/** One of the user's live reports, without its PDF; undefined for another user's, an expired or an unknown one. */
export async function findReport(db: Database, v: Visible & { id: string }): Promise<ReportMeta | undefined> {
  const [row] = await db
    .select(metaColumns)
    .from(reports)
    .where(and(eq(reports.id, v.id), eq(reports.userId, v.userId), live(v.now, v.retentionMs)))
    .limit(1);
  return row;
}

export async function findReportPdf(db: Database, v: Visible & { id: string }): Promise<{ filename: string; pdf: Buffer } | undefined> {
  const [row] = await db
    .select({ filename: reports.filename, pdf: reports.pdf })
    .from(reports)
    .where(and(eq(reports.id, v.id), eq(reports.userId, v.userId), live(v.now, v.retentionMs)))
    .limit(1);
  return row;
}

/** The latest live report that covered this request of the user's. */
export async function findReportForRequest(db: Database, v: Visible & { requestId: string }): Promise<ReportMeta | undefined> {
  const [row] = await db
    .select(metaColumns)
    .from(reports)
    .where(and(eq(reports.userId, v.userId), arrayContains(reports.requestIds, [v.requestId]), live(v.now, v.retentionMs)))
    .orderBy(desc(reports.createdAt))
    .limit(1);
  return row;
}

/**
 * Records resend requests on their reports, in one statement: a request counts only for its own
 * user's report, and only if it is newer than the one recorded, so a copy of a request already
 * taken in (read twice from the queue, or sent since) never makes it pending again.
 * Returns the ids of the requests that became pending.
 */
export async function takeInResendRequests(db: Database, requests: readonly ReportResendRequest[]): Promise<string[]> {
  if (!requests.length) return [];
  const ids = requests.map((r) => r.id);
  const userIds = requests.map((r) => r.userId);
  const reportIds = requests.map((r) => r.reportId);
  const at = requests.map((r) => r.requestedAt);
  // The newest request per report wins within the batch too.
  const rows = await db.execute<{ resend_request_id: string }>(sql`
    update ${reports} r
       set resend_request_id = q.id, resend_requested_at = q.at, resend_state = 'pending', resend_error = null
      from (
        -- Times as text: postgres.js serialises a timestamptz[] parameter wrongly.
        select distinct on (report_id) id, user_id, report_id, at::timestamptz as at
          from unnest(${sql.param(ids)}::uuid[], ${sql.param(userIds)}::uuid[], ${sql.param(reportIds)}::uuid[], ${sql.param(at)}::text[])
               as t(id, user_id, report_id, at)
         order by report_id, at desc
      ) q
     where r.id = q.report_id and r.user_id = q.user_id
       and (r.resend_requested_at is null or r.resend_requested_at < q.at)
    returning r.resend_request_id`);
  return rows.map((row) => row.resend_request_id);
}

/** Reports with a resend waiting, oldest request first. */
export async function listPendingResends(
  db: Database,
  now: Date,
  retentionMs: number,
  limit: number,
): Promise<{ id: string; userId: string; resendRequestId: string }[]> {
  const rows = await db
    .select({ id: reports.id, userId: reports.userId, resendRequestId: reports.resendRequestId })
    .from(reports)
    .where(and(eq(reports.resendState, 'pending'), live(now, retentionMs)))
    .orderBy(reports.resendRequestedAt)
    .limit(limit);
  return rows.flatMap((r) => (r.resendRequestId ? [{ ...r, resendRequestId: r.resendRequestId }] : []));
}

/** A report whose resend is still pending, with its owner's current address; undefined once it is not. */
export async function readPendingResend(
  db: Database,
  id: string,
  resendRequestId: string,
): Promise<(ReportRow & { email: string; username: string }) | undefined> {
  const [row] = await db
    .select({ ...getTableColumns(reports), email: users.email, username: users.username })
    .from(reports)
    .innerJoin(users, eq(users.id, reports.userId))
    .where(and(eq(reports.id, id), eq(reports.resendRequestId, resendRequestId), eq(reports.resendState, 'pending')))
    .limit(1);
  return row;
}

/** The resend went out (or was given up). Only the pending request it was made for is closed. */
export async function finishResend(
  db: Database,
  id: string,
  resendRequestId: string,
  outcome: { sent: true; messageId: string; at: Date } | { sent: false; error: string },
): Promise<boolean> {
  const set = outcome.sent
    ? {
        resendState: 'sent' as const,
        resendCount: sql`${reports.resendCount} + 1`,
        lastResendMessageId: outcome.messageId,
        lastResentAt: outcome.at,
        resendError: null,
      }
    : { resendState: 'failed' as const, resendError: outcome.error };
  const done = await db
    .update(reports)
    .set(set)
    .where(and(eq(reports.id, id), eq(reports.resendRequestId, resendRequestId), eq(reports.resendState, 'pending')))
    .returning({ id: reports.id });
  return done.length === 1;
}
