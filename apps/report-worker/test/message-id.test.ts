// Mail clients treat two messages with one Message-ID as one: a resend of the same report must keep
// it, and an email that covers other requests must not.

import { finishImport, insertUser, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReportPass } from '../src/jobs/report-pass.js';
import { mailsTo, type ReportHarness, startReportHarness, validBooks } from './harness.js';

let h: ReportHarness;
beforeAll(async () => {
  h = await startReportHarness('message-id');
});
afterAll(() => h?.close());

const later = (minutes: number) => () => new Date(Date.now() + minutes * 60_000);

describe('the Message-ID of a report', () => {
  it('stays the same on a resend of the same requests and changes once a new import joins the report', async () => {
    const user = await insertUser(h.stores.db);
    const first = await finishImport(h.stores, user.id, validBooks(2, 'First'));
    // The server keeps each copy but answers too late for this replica: each attempt is a temporary
    // failure whose copy still arrived, so the inbox shows what every attempt carried.
    const impatient = h.replica({ SMTP_SOCKET_TIMEOUT_SECONDS: '1' });
    h.smtp.answerDelayMs = 31_000;
    expect((await runReportPass(impatient)).retry_later).toBe(1);
    expect((await runReportPass({ ...impatient, now: later(5) })).retry_later).toBe(1);
    h.smtp.answerDelayMs = 0;
    const [attempt1, attempt2] = mailsTo(h.smtp, user.email);
    expect(attempt2!.parsed.messageId).toBe(attempt1!.parsed.messageId);

    const second = await finishImport(h.stores, user.id, validBooks(3, 'Second'));
    expect((await runReportPass({ ...h.deps, now: later(60) })).sent).toBe(1);
    const mails = mailsTo(h.smtp, user.email);
    expect(mails).toHaveLength(3);
    const resend = mails[2]!;
    expect(resend.parsed.subject).toBe('Your 2 book imports: 5 of 5 added');
    expect(resend.parsed.messageId).toMatch(/^<report-[0-9a-f-]{36}@books\.test>$/);
    expect(resend.parsed.messageId).not.toBe(attempt1!.parsed.messageId);
    for (const requestId of [first, second])
      expect(await readImport(h.stores, user.id, requestId)).toMatchObject({
        stage: 'completed',
        reportMessageId: resend.parsed.messageId,
      });
  }, 120_000);
});
