// One user's report: under a lease (renewed while it works), build the PDF, store it (row
// `sending`), send one email, record that it was sent (Redis status, then the row), and only then
// mark the requests completed and drop the status. A crash after sending finds the "sent" record on
// the next pass and only cleans up, so the user is not emailed twice; the record is written even if
// the lease was lost meanwhile, for the same reason.
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ReportScripts, readReportStatus, retryDelayMs } from '@books/core/bulk';
import { type Database, markReportSent, recordReportDeliveryFailure, saveReportSending } from '@books/core/db';
import { acquireLease, LeaseLostError, type RedisClient, type RedisKeys } from '@books/core/redis';
import type { Logger } from 'pino';
import { describeDeliveryError } from '../mail/delivery-error.js';
import { failuresFileName, reportFileName, reportHtml, reportSubject, reportText } from '../mail/report-email.js';
import { isPermanentSmtpFailure } from '../mail/transport.js';
import type { ReportMetrics } from '../metrics.js';
import type { ReportData } from '../report-data.js';
import { gatherReport } from './gather-report.js';
import { keepLease } from './lease-keeper.js';
import { reportIdFor, reportMessageId } from './report-id.js';

export interface ReportSettings {
  maxAttempts: number;
  retryBaseMs: number;
  leaseMs: number;
  concurrency: number;
  timeZone: string;
  systemName: string;
  company: { name: string; address: string };
  from: { name: string; address: string };
  pdfOutputDir: string;
  cleanupAfterSend: boolean;
  /** REPORTS_REQUIRE_VERIFIED_EMAIL: a report waits until its owner's address is verified. */
  requireVerifiedEmail: boolean;
  /** REPORT_RETENTION_DAYS: how long a stored report is kept. */
  retentionMs: number;
}

export interface MailSender {
  sendMail(message: {
    from: { name: string; address: string };
    to: string;
    subject: string;
    html: string;
    text: string;
    messageId: string;
    attachments?: { filename: string; content: Buffer; contentType: string }[];
  }): Promise<{ messageId: string; accepted?: unknown[] }>;
}

export interface PdfRenderer {
  render(data: ReportData): Promise<Buffer>;
}

export interface ReportDeps {
  db: Database;
  redis: RedisClient;
  keys: RedisKeys;
  scripts: ReportScripts;
  renderer: PdfRenderer;
  mailer: MailSender;
  log: Logger;
  now: () => Date;
  settings: ReportSettings;
  metrics: ReportMetrics;
}

export type ReportOutcome = 'sent' | 'cleaned_up' | 'retry_later' | 'failed' | 'waiting' | 'skipped' | 'nothing';

export async function reportUser(deps: ReportDeps, userId: string): Promise<ReportOutcome> {
  const { redis, keys, scripts, log, settings } = deps;
  const lease = await acquireLease(redis, keys.reportLease(userId), settings.leaseMs);
  if (!lease) return 'skipped';
  const keeper = keepLease(lease, settings.leaseMs, log);
  try {
    const status = await readReportStatus(redis, keys, userId);
    if (!status) {
      // Index entry without a status: nothing to report (it was completed by another worker).
      await redis.zrem(keys.reportPending(userId), userId);
      return 'nothing';
    }
    if (status.sent) {
      await markReportSent(deps.db, status.sent.reportId, { messageId: status.sent.messageId, sentAt: deps.now() });
      await scripts.complete(userId, lease.token, {
        requestIds: status.sent.requestIds,
        completedAt: deps.now(),
        messageId: status.sent.messageId,
      });
      log.info({ userId, reportId: status.sent.reportId }, 'report was sent before a crash; finished the clean-up without sending again');
      return 'cleaned_up';
    }
    if (status.nextAttemptAt && Date.parse(status.nextAttemptAt) > deps.now().getTime()) return 'waiting';

    const requestIds = status.requestIds;
    const reportId = reportIdFor(userId, requestIds);
    let messageId = reportMessageId(reportId, settings.from.address);
    let pdfPath: string | null = null;
    let delivered: { to: string; bytes: number };
    try {
      const gathered = await gatherReport(deps.db, redis, keys, userId, requestIds, {
        reportId,
        generatedAt: deps.now(),
        timeZone: settings.timeZone,
        systemName: settings.systemName,
        company: settings.company,
      });
      if (!gathered.ok) {
        await scripts.recordFailure(userId, lease.token, failureOf(deps, requestIds, gathered.reason, true, status.reportAttempts));
        log.error({ userId, reportId, reason: gathered.reason }, 'report cannot be made; requests marked failed');
        return 'failed';
      }
      // Waiting for a verification is not an attempt: nothing is counted and the requests stay pending.
      if (settings.requireVerifiedEmail && !gathered.emailVerified) {
        log.debug({ userId, reportId }, 'report waits for its owner to verify the email address');
        return 'waiting';
      }
      const { data, failuresCsv } = gathered;
      const pdf = await deps.renderer.render(data);
      const filename = reportFileName(data);
      const subject = reportSubject(data);
      if (settings.pdfOutputDir) {
        await mkdir(settings.pdfOutputDir, { recursive: true });
        pdfPath = join(settings.pdfOutputDir, filename);
        await writeFile(pdfPath, pdf);
      }
      // Kept before the send, so that every email that may have gone out has its row; a retry
      // updates the same row (the report id names the requests), with its own PDF.
      await saveReportSending(deps.db, {
        id: reportId,
        userId,
        requestIds,
        messageId,
        recipient: data.user.email,
        subject,
        filename,
        pdf,
        now: deps.now(),
        retentionMs: settings.retentionMs,
      });
      // Past this point the email may go out: not once another worker may be sending it too.
      if (!keeper.held()) throw new LeaseLostError('report', userId);
      const info = await deps.mailer.sendMail({
        from: settings.from,
        to: data.user.email,
        subject,
        html: reportHtml(data),
        text: reportText(data),
        messageId,
        attachments: [
          { filename, content: pdf, contentType: 'application/pdf' },
          ...(failuresCsv ? [{ filename: failuresFileName(data), content: Buffer.from(failuresCsv), contentType: 'text/csv' }] : []),
        ],
      });
      messageId = info.messageId || messageId;
      delivered = { to: data.user.email, bytes: pdf.length };
    } catch (err) {
      if (err instanceof LeaseLostError) throw err;
      const permanent = isPermanentSmtpFailure(err);
      const { code, reason } = describeDeliveryError(err);
      const result = await scripts.recordFailure(
        userId,
        lease.token,
        failureOf(deps, requestIds, reason, permanent, status.reportAttempts),
      );
      // The requests' state (Redis) is what counts; a row left `sending` only shows a stale state.
      await recordReportDeliveryFailure(deps.db, reportId, { error: reason, gaveUp: result.failed }).catch((dbErr: unknown) =>
        log.warn({ err: dbErr, userId, reportId }, 'could not record the failed attempt on the stored report'),
      );
      const context = { err, code, userId, reportId, attempts: result.attempts, permanent };
      if (result.failed) log.error(context, 'report could not be delivered; requests marked failed');
      else log.warn(context, 'report attempt failed; it stays pending and is retried with backoff');
      return result.failed ? 'failed' : 'retry_later';
    }
    // The server has the message: record it whoever holds the lease now (markSent needs none).
    const sentAt = deps.now();
    await scripts.markSent(userId, lease.token, { reportId, messageId, requestIds, sentAt });
    // After the Redis record: if this fails, the next pass finds "sent" there and records it here.
    await markReportSent(deps.db, reportId, { messageId, sentAt });
    log.info({ userId, reportId, messageId, requests: requestIds.length, ...delivered }, 'report sent');
    await scripts.complete(userId, lease.token, { requestIds, completedAt: deps.now(), messageId });
    if (pdfPath && settings.cleanupAfterSend)
      await unlink(pdfPath).catch((err) => log.warn({ err, pdfPath }, 'could not remove the sent PDF'));
    return 'sent';
  } catch (err) {
    if (!(err instanceof LeaseLostError)) throw err;
    log.warn({ userId }, err.message);
    return 'skipped';
  } finally {
    keeper.stop();
    await lease.release().catch((err) => log.warn({ err, userId }, 'could not release the report lease; it expires by itself'));
  }
}

function failureOf(deps: ReportDeps, requestIds: string[], error: string, permanent: boolean, attemptsSoFar: number) {
  const now = deps.now();
  return {
    requestIds,
    error,
    permanent,
    now,
    nextAttemptAt: new Date(now.getTime() + retryDelayMs(attemptsSoFar + 1, deps.settings.retryBaseMs)),
    maxAttempts: deps.settings.maxAttempts,
    // Numbered, so that a replayed script counts this attempt once.
    attempt: attemptsSoFar + 1,
  };
}
