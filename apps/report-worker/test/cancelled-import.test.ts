// A cancelled import (DELETE /books/bulk/:id) is reported in the owner's next email like a finished
// one: how many went in before it was cancelled, in the subject, the body and the PDF; and it stays
// cancelled afterwards, with the report noted. Built through core's transitions and its cancel.
import { cancelBulkRequest, createBulkWorkerScripts } from '@books/core/bulk';
import { acquireLease } from '@books/core/redis';
import { finishQueuedImport, insertUser, processQueuedImportPartly, queueImport, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReportPass } from '../src/jobs/report-pass.js';
import { mailsTo, pdfOf, pdfText, type ReportHarness, startReportHarness, validBooks } from './harness.js';

let h: ReportHarness;
beforeAll(async () => {
  h = await startReportHarness('cancelled-import');
});
afterAll(() => h?.close());

const cancel = (userId: string, requestId: string) =>
  cancelBulkRequest(h.stores.redis, h.stores.keys, userId, requestId, { now: new Date(), cacheTtlMs: 60_000 });

describe('a cancelled import', () => {
  it('cancelled while queued: the email says none were added before it was cancelled', async () => {
    const user = await insertUser(h.stores.db, 'queued_canceller');
    const requestId = await queueImport(h.stores, user.id, validBooks(12, 'Never'));
    expect(await cancel(user.id, requestId)).toEqual({ outcome: 'cancelled' });

    const summary = await runReportPass(h.deps);
    expect(summary).toMatchObject({ sent: 1 });
    const [mail] = mailsTo(h.smtp, user.email);
    expect(mail!.parsed.subject).toBe('Your book import was cancelled: 0 of 12 added before it was cancelled');
    for (const body of [mail!.parsed.text as string, mail!.parsed.html as string]) {
      expect(body).toContain('Your import was cancelled: 0 of 12 added before it was cancelled; the other 12 were not added.');
    }
    const { text } = await pdfText(pdfOf(mail!));
    expect(text).toContain('CANCELLED: 0 of 12 added before it was cancelled');
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'cancelled', reportMessageId: mail!.parsed.messageId });
  }, 90_000);

  it('cancelled while processing, beside a finished import: one email covers both, with what went in before the cancel', async () => {
    const user = await insertUser(h.stores.db, 'busy_canceller');
    const finished = await queueImport(h.stores, user.id, validBooks(5, 'Done'));
    await finishQueuedImport(h.stores, user.id, finished);
    const requestId = await queueImport(h.stores, user.id, validBooks(30, 'Half'));
    await processQueuedImportPartly(h.stores, user.id, requestId, 10);
    expect(await cancel(user.id, requestId)).toEqual({ outcome: 'cancel_requested' });
    // The worker's next chunk boundary: it stops there (apps/bulk-worker/test/cancel.test.ts checks it does).
    const { redis, keys } = h.stores;
    const lease = await acquireLease(redis, keys.bulkLease(user.id), 30_000);
    const scripts = createBulkWorkerScripts(redis, keys, { leaseMs: 30_000, cacheTtlMs: 60_000, recordTtlSeconds: 3600 });
    expect(await scripts.finalize(user.id, requestId, lease!.token, new Date(), 1500)).toBe('cancelled');
    await lease!.release();
    const record = await readImport(h.stores, user.id, requestId);
    expect(record).toMatchObject({ stage: 'cancelled', inserted: 10 });

    expect((await runReportPass(h.deps)).sent).toBe(1);
    const mails = mailsTo(h.smtp, user.email);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    const added = 5 + record.inserted;
    expect(mail.parsed.subject).toBe(`Your 2 book imports (1 cancelled): ${added} of 35 added, ${30 - record.inserted} not processed`);
    for (const body of [mail.parsed.text as string, mail.parsed.html as string]) {
      expect(body).toContain(`Import ${requestId} was cancelled: ${record.inserted} of 30 added before it was cancelled`);
    }
    const { text } = await pdfText(pdfOf(mail));
    expect(text).toContain(`CANCELLED: ${record.inserted} of 30 added before it was cancelled`);
    expect(text).toContain('CANCELLED AT');
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'cancelled', reportMessageId: mail.parsed.messageId });
    expect(await readImport(h.stores, user.id, finished)).toMatchObject({ stage: 'completed' });
    await runReportPass(h.deps);
    expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
  }, 90_000);
});
