// An import that ends `failed` (its attempts ran out) is still reported to its owner: what went in
// before it stopped, what was never tried, and why, in the subject, the body and the PDF.

import { failImport, insertUser, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReportPass } from '../src/jobs/report-pass.js';
import { mailsTo, pdfOf, pdfText, type ReportHarness, startReportHarness, validBooks } from './harness.js';

let h: ReportHarness;
beforeAll(async () => {
  h = await startReportHarness('failed-import');
});
afterAll(() => h?.close());

describe('an import that ends failed', () => {
  it('is reported by email with what went in before it stopped, how many were not processed, and why', async () => {
    const user = await insertUser(h.stores.db, 'stopped_reader');
    const books = [...validBooks(300, 'Stopped'), { title: 'Refused on sight', author: 'A', isbn: 'not-an-isbn' }];
    // As the bulk worker leaves it when the disk fills during its third chunk of 100 and its one
    // attempt is used up (apps/bulk-worker/test/disk-full.test.ts checks the worker does exactly this).
    const requestId = await failImport(h.stores, user.id, books, {
      inserted: 200,
      error: 'the database was unavailable',
      code: 'DATABASE_UNAVAILABLE',
    });
    const failed = await readImport(h.stores, user.id, requestId);
    expect(failed).toMatchObject({ stage: 'failed', submitted: 301, inserted: 200, failed: 1, lastError: 'the database was unavailable' });
    const notProcessed = 301 - failed.inserted - failed.failed;
    expect(notProcessed).toBeGreaterThan(0);

    const summary = await runReportPass(h.deps);
    expect(summary.sent).toBe(1);
    const mails = mailsTo(h.smtp, user.email);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    const added = `200 of 301 added${failed.failed ? `, ${failed.failed} failed` : ''}, ${notProcessed} not processed`;
    expect(mail.parsed.subject).toBe(`Your book import failed: ${added}`);
    for (const body of [mail.parsed.text as string, mail.parsed.html as string]) {
      expect(body).toContain(`could not be finished: ${failed.lastError}`);
      expect(body).toContain('200 of its 301 books were added before it stopped');
      expect(body).toContain(`${notProcessed} were not processed`);
      // A readable reason, not the database's own words.
      expect(body).not.toMatch(/No space left|53100|127\.0\.0\.1/);
    }

    const { text } = await pdfText(pdfOf(mail));
    for (const expected of [requestId, 'FAILED', 'FAILED AT', `Why it stopped: ${failed.lastError}`, 'Not processed', String(notProcessed)])
      expect(text).toContain(expected);

    // Still failed on record, now with the report that told the user.
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'failed', reportMessageId: mail.parsed.messageId });
    await runReportPass(h.deps);
    expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
  }, 90_000);
});
