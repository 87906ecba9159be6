// A mail server that takes its time to answer the end of DATA has, by then, usually accepted the
// message (RFC 5321 §4.5.3.2 asks clients to wait 10 minutes for that answer). Giving up early, or
// letting a second replica take the report meanwhile, sends it twice.
import { setTimeout as sleep } from 'node:timers/promises';
import { finishImport, insertUser, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReportPass } from '../src/jobs/report-pass.js';
import { mailsTo, type ReportHarness, startReportHarness, validBooks } from './harness.js';

let h: ReportHarness;
beforeAll(async () => {
  // A lease far shorter than the server's answer: only renewing it keeps the second replica out.
  h = await startReportHarness('slow-mail-server', { REPORT_LEASE_SECONDS: '3' });
});
afterAll(() => h?.close());

const later = (minutes: number) => () => new Date(Date.now() + minutes * 60_000);

describe('a mail server that answers the end of DATA slowly', () => {
  it('gets exactly one email while two replicas pass again and again, and the request ends completed', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await finishImport(h.stores, user.id, validBooks(3, 'Slow'));
    // Longer than nodemailer's former 30 s socket timeout, and than the 3 s lease many times over.
    h.smtp.answerDelayMs = 36_000;
    const other = h.replica();
    let firstDone = false;
    const first = runReportPass(h.deps).finally(() => {
      firstDone = true;
    });
    // The other replica keeps trying, with a clock past any retry delay a failed attempt would set.
    let otherPasses = 0;
    while (!firstDone) {
      await runReportPass({ ...other, now: later(60) });
      otherPasses++;
      await sleep(1_000);
    }
    const firstSummary = await first;
    h.smtp.answerDelayMs = 0;
    for (const minutes of [120, 240]) {
      await runReportPass({ ...h.deps, now: later(minutes) });
      await runReportPass({ ...other, now: later(minutes) });
    }

    const mails = mailsTo(h.smtp, user.email);
    expect(mails).toHaveLength(1);
    expect(firstSummary.sent).toBe(1);
    expect(otherPasses).toBeGreaterThan(10);
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({
      stage: 'completed',
      reportMessageId: mails[0]!.parsed.messageId,
    });
  }, 150_000);

  it('a worker whose lease ran out while the server was answering still records the email, so no later pass sends it again', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await finishImport(h.stores, user.id, validBooks(2, 'Paused'));
    h.smtp.answerDelayMs = 4_000;
    const pass = runReportPass(h.deps);
    // As if the holder had been paused past its lease while waiting for the answer.
    const lease = h.deps.keys.reportLease(user.id);
    while (mailsTo(h.smtp, user.email).length === 0) await sleep(100);
    await h.deps.redis.del(lease);
    const summary = await pass;
    h.smtp.answerDelayMs = 0;
    expect(summary.skipped).toBe(1);
    expect((await readImport(h.stores, user.id, requestId)).stage).toBe('processed_awaiting_report');

    const next = await runReportPass({ ...h.replica(), now: later(60) });
    expect(next.cleaned_up).toBe(1);
    const mails = mailsTo(h.smtp, user.email);
    expect(mails).toHaveLength(1);
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({
      stage: 'completed',
      reportMessageId: mails[0]!.parsed.messageId,
    });
  }, 60_000);
});
