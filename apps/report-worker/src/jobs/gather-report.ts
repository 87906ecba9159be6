// Collects what one report shows: the user (Postgres) and each listed request with its failures
// (Redis). A request that ended failed is reported too: what went in, what was never tried, and why;
// so is a cancelled one: what went in before it was cancelled.
import { readBulkRequest, readFailedItems } from '@books/core/bulk';
import { type Database, findUserById } from '@books/core/db';
import type { RedisClient, RedisKeys } from '@books/core/redis';
import { successRate } from '../pdf/format.js';
import type { ReportData, ReportRequest } from '../report-data.js';

export interface ReportContext {
  reportId: string;
  generatedAt: Date;
  timeZone: string;
  systemName: string;
  company: { name: string; address: string };
}

/**
 * react-pdf's time grows faster than linearly with rows (300 failures: ~3 s; 2,000: ~90 s), so
 * the PDF lists at most this many failed books; every one of them is in the CSV attachment.
 */
export const MAX_FAILURES_IN_PDF = 500;

export type Gathered = { ok: true; data: ReportData; failuresCsv: string | null; emailVerified: boolean } | { ok: false; reason: string };

const csvField = (value: string | number | null) => {
  // A leading = + - @ (or a tab or CR hiding one) would make a spreadsheet run the cell as a formula
  // (OWASP CSV injection), as in the API's failures CSV.
  const text = value === null ? '' : String(value).replace(/^[=+\-@\t\r]/, "'$&");
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

export async function gatherReport(
  db: Database,
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  requestIds: string[],
  context: ReportContext,
): Promise<Gathered> {
  const row = await findUserById(db, userId);
  if (!row) return { ok: false, reason: 'the account no longer exists' };
  const user = { id: row.id, username: row.username, email: row.email };
  const requests: ReportRequest[] = [];
  const csvRows: string[] = [];
  let listed = 0;
  for (const requestId of requestIds) {
    const record = await readBulkRequest(redis, keys, userId, requestId);
    if (!record) continue;
    const stopped = record.stage === 'failed';
    const cancelled = record.stage === 'cancelled';
    requests.push({
      requestId,
      outcome: stopped ? 'failed' : cancelled ? 'cancelled' : 'processed',
      submitted: record.submitted,
      inserted: record.inserted,
      failed: record.failed,
      notProcessed: Math.max(0, record.submitted - record.inserted - record.failed),
      failureReason: stopped ? (record.lastError ?? 'the import could not be finished') : null,
      queuedAt: record.queuedAt,
      processingStartedAt: record.processingStartedAt,
      processedAt: record.processedAt,
      failedAt: stopped ? record.failedAt : null,
      cancelledAt: cancelled ? record.cancelledAt : null,
      durationMs: record.durationMs,
      failedItems: [],
      failedItemsOmitted: 0,
    });
    const failures = await readFailedItems(redis, keys, userId, requestId);
    const room = Math.max(0, MAX_FAILURES_IN_PDF - listed);
    const request = requests[requests.length - 1]!;
    request.failedItems = failures.slice(0, room);
    request.failedItemsOmitted = failures.length - request.failedItems.length;
    listed += request.failedItems.length;
    for (const f of failures) csvRows.push([requestId, f.index, f.title, f.author, f.reason].map(csvField).join(','));
  }
  if (requests.length === 0) return { ok: false, reason: 'none of the listed requests is on record any more' };
  requests.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt));
  const submitted = requests.reduce((n, r) => n + r.submitted, 0);
  const inserted = requests.reduce((n, r) => n + r.inserted, 0);
  const failed = requests.reduce((n, r) => n + r.failed, 0);
  const notProcessed = requests.reduce((n, r) => n + r.notProcessed, 0);
  const failedRequests = requests.filter((r) => r.outcome === 'failed').length;
  return {
    ok: true,
    emailVerified: row.emailVerifiedAt !== null,
    failuresCsv: csvRows.length ? `request_id,index,title,author,reason\r\n${csvRows.join('\r\n')}\r\n` : null,
    data: {
      reportId: context.reportId,
      generatedAt: context.generatedAt.toISOString(),
      timeZone: context.timeZone,
      systemName: context.systemName,
      company: context.company,
      user,
      requests,
      totals: { submitted, inserted, failed, notProcessed, failedRequests, successRate: successRate(inserted, submitted) ?? 0 },
    },
  };
}
