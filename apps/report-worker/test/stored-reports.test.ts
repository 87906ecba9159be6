// Every report the worker sends is kept in Postgres with the very PDF it attached, its delivery
// state and Message-ID; a report given up is kept as failed; reports past REPORT_RETENTION_DAYS are
// deleted by the pass; a resend asked for through core's queue goes out once, with a new Message-ID.
import { randomUUID } from 'node:crypto';
import { requestReportResend } from '@books/core/reports';
import { finishImport, insertUser, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportIdFor } from '../src/jobs/report-id.js';
import { runReportPass } from '../src/jobs/report-pass.js';
import { runReportResendPass } from '../src/jobs/report-resend-pass.js';
import { mailsTo, pdfOf, type ReportHarness, startReportHarness, validBooks } from './harness.js';

let h: ReportHarness;
beforeAll(async () => {
  h = await startReportHarness('stored-reports', { REPORT_RETENTION_DAYS: '10' });
});
afterAll(() => h?.close());

const DAY = 86_400_000;
// Read with postgres.js as the table's columns; times come as text (Drizzle's driver setting).
type Row = Record<string, unknown> & { pdf: Buffer; created_at: string; expires_at: string };
const rowOf = async (id: string) => (await h.deps.sql<Row[]>`select * from reports where id = ${id}`)[0];
const rowsOf = (userId: string) => h.deps.sql<Row[]>`select * from reports where user_id = ${userId}`;
const setTimes = (id: string, times: { createdAt?: Date; expiresAt: Date }) =>
  h.deps.sql`
    update reports set expires_at = ${times.expiresAt.toISOString()}::timestamptz,
                       created_at = coalesce(${times.createdAt?.toISOString() ?? null}::timestamptz, created_at)
     where id = ${id}`;

async function reportedImport(count = 3) {
  const user = await insertUser(h.stores.db);
  const requestId = await finishImport(h.stores, user.id, validBooks(count, 'Kept'));
  await runReportPass(h.deps);
  const [mail] = mailsTo(h.smtp, user.email);
  if (!mail) throw new Error('no report sent');
  return { user, requestId, mail, reportId: reportIdFor(user.id, [requestId]) };
}

describe('a sent report', () => {
  it('is stored with the same PDF bytes as the email attachment, state sent, its Message-ID and an expiry of REPORT_RETENTION_DAYS', async () => {
    const before = Date.now();
    const { user, requestId, mail, reportId } = await reportedImport();
    const rows = await rowsOf(user.id);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({
      id: reportId,
      request_ids: [requestId],
      delivery_state: 'sent',
      message_id: mail.parsed.messageId,
      recipient: user.email,
      subject: mail.parsed.subject,
      filename: mail.parsed.attachments[0]!.filename,
      pdf_bytes: pdfOf(mail).length,
      resend_count: 0,
      resend_state: null,
    });
    expect(Buffer.compare(row.pdf, pdfOf(mail))).toBe(0);
    expect(row.delivered_at).toEqual(expect.any(String));
    expect(Date.parse(row.expires_at) - Date.parse(row.created_at)).toBe(10 * DAY);
    expect(Date.parse(row.created_at)).toBeGreaterThanOrEqual(before - 1000);
    expect((await readImport(h.stores, user.id, requestId)).reportMessageId).toBe(row.message_id);
  });

  it('is one row however many attempts it took: a deferred attempt leaves it sending, the next one sent', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await finishImport(h.stores, user.id, validBooks(2, 'Deferred'));
    const reportId = reportIdFor(user.id, [requestId]);
    h.smtp.deferAll = true;
    try {
      expect((await runReportPass(h.deps)).retry_later).toBeGreaterThanOrEqual(1);
    } finally {
      h.smtp.deferAll = false;
    }
    expect(await rowOf(reportId)).toMatchObject({ delivery_state: 'sending', delivery_error: expect.stringContaining('451') });
    // The retry is due later: the clock of a later pass.
    const later = h.replica();
    await runReportPass({ ...later, now: () => new Date(Date.now() + 60 * 60_000) });
    const [mail] = mailsTo(h.smtp, user.email);
    const rows = await rowsOf(user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: reportId, delivery_state: 'sent', delivery_error: null, message_id: mail!.parsed.messageId });
    expect(Buffer.compare(rows[0]!.pdf, pdfOf(mail!))).toBe(0);
  });
});

describe('a report given up', () => {
  it('is stored as failed, with the readable reason', async () => {
    const user = await insertUser(h.stores.db);
    h.smtp.rejectRecipients.add(user.email);
    const requestId = await finishImport(h.stores, user.id, validBooks(2, 'Refused'));
    expect((await runReportPass(h.deps)).failed).toBeGreaterThanOrEqual(1);
    expect(await rowOf(reportIdFor(user.id, [requestId]))).toMatchObject({
      delivery_state: 'failed',
      delivery_error: 'the mail server refused the recipient address (550)',
      delivered_at: null,
    });
  });
});

describe('retention', () => {
  it('deletes the reports past their expiry or REPORT_RETENTION_DAYS in the pass, and keeps the others', async () => {
    const expired = await reportedImport();
    const tooOld = await reportedImport();
    const kept = await reportedImport();
    await setTimes(expired.reportId, { expiresAt: new Date(Date.now() - 1000) });
    // Stored under a longer retention than today's 10 days.
    await setTimes(tooOld.reportId, { createdAt: new Date(Date.now() - 11 * DAY), expiresAt: new Date(Date.now() + 19 * DAY) });
    const summary = await runReportPass(h.deps);
    expect(summary.expiredReports).toBe(2);
    expect((await h.deps.registry.getSingleMetric('books_reports_expired_deleted_total')?.get())?.values[0]?.value).toBe(2);
    expect(await rowOf(expired.reportId)).toBeUndefined();
    expect(await rowOf(tooOld.reportId)).toBeUndefined();
    expect(await rowOf(kept.reportId)).toMatchObject({ delivery_state: 'sent' });
  });
});

describe('a resend', () => {
  const ask = (userId: string, reportId: string) =>
    requestReportResend(h.stores.redis, h.stores.keys, { userId, reportId, now: new Date(), throttleMs: 60_000 });

  it('sends the stored PDF again, once, with a new Message-ID, and records it', async () => {
    const { user, mail, reportId } = await reportedImport(4);
    const asked = await ask(user.id, reportId);
    expect(asked.queued).toBe(true);
    // A second copy of the same request in the queue (a re-sent RPUSH) is taken in once.
    const [raw] = await h.stores.redis.lrange(h.stores.keys.reportResendQueue(user.id), -1, -1);
    await h.stores.redis.rpush(h.stores.keys.reportResendQueue(user.id), raw!);
    // Two replicas at once.
    const [a, b] = await Promise.all([runReportResendPass(h.deps), runReportResendPass(h.replica())]);
    expect(a.sent + b.sent).toBe(1);
    await runReportResendPass(h.deps);

    const mails = mailsTo(h.smtp, user.email);
    expect(mails).toHaveLength(2);
    const resent = mails[1]!;
    expect(resent.parsed.messageId).not.toBe(mail.parsed.messageId);
    expect(resent.parsed.subject).toBe(`Your report, sent again: ${mail.parsed.subject}`);
    expect(Buffer.compare(pdfOf(resent), pdfOf(mail))).toBe(0);
    expect(resent.parsed.attachments[0]!.filename).toBe(mail.parsed.attachments[0]!.filename);
    expect(await rowOf(reportId)).toMatchObject({
      resend_state: 'sent',
      resend_count: 1,
      last_resend_message_id: resent.parsed.messageId,
      last_resent_at: expect.any(String),
      message_id: mail.parsed.messageId,
    });
    expect(await h.stores.redis.llen(h.stores.keys.reportResendQueue(user.id))).toBe(0);
  });

  it('an older request read after a newer one was sent (a late copy, another replica) sends nothing', async () => {
    const { user, reportId } = await reportedImport();
    const request = (agoMs: number) => ({
      id: randomUUID(),
      userId: user.id,
      reportId,
      requestedAt: new Date(Date.now() - agoMs).toISOString(),
    });
    const queue = h.stores.keys.reportResendQueue(user.id);
    await h.stores.redis.rpush(queue, JSON.stringify(request(0)));
    expect(await runReportResendPass(h.deps)).toMatchObject({ takenIn: 1, sent: 1 });
    await h.stores.redis.rpush(queue, JSON.stringify(request(5000)));
    expect(await runReportResendPass(h.deps)).toMatchObject({ takenIn: 0, sent: 0 });
    expect(mailsTo(h.smtp, user.email)).toHaveLength(2);
    expect(await rowOf(reportId)).toMatchObject({ resend_state: 'sent', resend_count: 1 });
  });

  it('is throttled per user, and a request for a report that is not the user’s sends nothing', async () => {
    const { user, reportId } = await reportedImport();
    const other = await insertUser(h.stores.db);
    expect((await ask(other.id, reportId)).queued).toBe(true);
    expect(await ask(other.id, reportId)).toMatchObject({ queued: false, retryAfterMs: expect.any(Number) });
    const summary = await runReportResendPass(h.deps);
    expect(summary).toMatchObject({ takenIn: 0, sent: 0 });
    expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
    expect(mailsTo(h.smtp, other.email)).toHaveLength(0);
    expect(await rowOf(reportId)).toMatchObject({ resend_state: null, resend_count: 0 });
  });

  it('that fails is recorded failed and not retried; an entry that is not a request is dropped', async () => {
    const { user, reportId } = await reportedImport();
    await h.stores.redis.rpush(h.stores.keys.reportResendQueue(user.id), 'not json', JSON.stringify({ id: randomUUID() }));
    h.smtp.rejectRecipients.add(user.email);
    expect((await ask(user.id, reportId)).queued).toBe(true);
    const failedResends = async () =>
      (await h.deps.registry.getSingleMetric('books_report_resends_total')?.get())?.values.find((v) => v.labels.outcome === 'failed')
        ?.value ?? 0;
    const failedBefore = await failedResends();
    expect((await runReportResendPass(h.deps)).failed).toBe(1);
    expect((await failedResends()) - failedBefore).toBe(1);
    expect(await rowOf(reportId)).toMatchObject({
      resend_state: 'failed',
      resend_error: 'the mail server refused the recipient address (550)',
      resend_count: 0,
    });
    expect((await runReportResendPass(h.deps)).failed).toBe(0);
    expect(await h.stores.redis.llen(h.stores.keys.reportResendQueue(user.id))).toBe(0);
  });
});
