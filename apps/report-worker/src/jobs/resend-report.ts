// One resend of a stored report: under a lease on it (renewed while the server is awaited), send
// the stored PDF to the owner's current address with a Message-ID of the resend request, then close
// that request in Postgres. The row says whether the request is still pending, so a request is
// sent at most once by any number of replicas (the lease keeps two from sending it at once; the
// window of reports remains: a worker that dies after the server accepted it and before Postgres
// heard of it sends it again, with the same Message-ID). A failed send is not retried: the
// request is marked failed and the user may ask again.
import { finishResend, readPendingResend } from '@books/core/db';
import { acquireLease } from '@books/core/redis';
import { describeDeliveryError } from '../mail/delivery-error.js';
import { reportResendEmail, reportResendMessageId } from '../mail/report-resend-email.js';
import { keepLease } from './lease-keeper.js';
import type { ReportDeps } from './report-user.js';

export type ResendDeps = Pick<ReportDeps, 'db' | 'redis' | 'keys' | 'mailer' | 'log' | 'now' | 'settings' | 'metrics'>;

export type ResendOutcome = 'sent' | 'failed' | 'skipped' | 'nothing';

export interface PendingResend {
  id: string;
  userId: string;
  resendRequestId: string;
}

export async function resendReport(deps: ResendDeps, pending: PendingResend): Promise<ResendOutcome> {
  const { redis, keys, log, settings } = deps;
  const context = { userId: pending.userId, reportId: pending.id, resendId: pending.resendRequestId };
  const lease = await acquireLease(redis, keys.reportResendLease(pending.userId, pending.id), settings.leaseMs);
  if (!lease) return 'skipped';
  const keeper = keepLease(lease, settings.leaseMs, log);
  try {
    const report = await readPendingResend(deps.db, pending.id, pending.resendRequestId);
    if (!report) return 'nothing';
    const messageId = reportResendMessageId(report.id, pending.resendRequestId, settings.from.address);
    const email = reportResendEmail(report, settings.company.name);
    // Past this point the email may go out: not once another replica may be sending it too.
    if (!keeper.held()) return 'skipped';
    try {
      await deps.mailer.sendMail({
        from: settings.from,
        to: report.email,
        messageId,
        ...email,
        attachments: [{ filename: report.filename, content: report.pdf, contentType: 'application/pdf' }],
      });
    } catch (err) {
      const { code, reason } = describeDeliveryError(err);
      await finishResend(deps.db, pending.id, pending.resendRequestId, { sent: false, error: reason });
      log.error({ ...context, err, code }, 'report resend could not be delivered; the user may ask again');
      return 'failed';
    }
    // The server has it: close the request whoever holds the lease now.
    await finishResend(deps.db, pending.id, pending.resendRequestId, { sent: true, messageId, at: deps.now() });
    log.info({ ...context, messageId, bytes: report.pdf.length }, 'report resent');
    return 'sent';
  } finally {
    keeper.stop();
    await lease.release().catch((err) => log.warn({ ...context, err }, 'could not release the resend lease; it expires by itself'));
  }
}
