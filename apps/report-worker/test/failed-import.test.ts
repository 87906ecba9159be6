// An import that ends `failed` (its attempts ran out) is still reported to its owner: what went in
// before it stopped, what was never tried, and why, in the subject, the body and the PDF.

import { queueBulk, signUp } from '@books/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReportPass } from '../src/jobs/report-pass.js';
import { mailsTo, pdfOf, pdfText, type ReportHarness, requestView, startReportHarness, validBooks } from './harness.js';

let h: ReportHarness;
beforeAll(async () => {
  h = await startReportHarness('failed-import', { BULK_MAX_ATTEMPTS: '1', BULK_CHUNK_SIZE: '100' });
});
afterAll(() => h?.close());

/** From the row titled `title` on, this database answers as one whose disk is full (SQLSTATE 53100). */
async function diskFullFrom(title: string): Promise<void> {
  const sql = postgres(h.ctx.database.url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`
      CREATE FUNCTION refuse_when_full() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.title = '${title.replaceAll("'", "''")}' THEN
          RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER disk_full BEFORE INSERT ON books FOR EACH ROW EXECUTE FUNCTION refuse_when_full();`);
  } finally {
    await sql.end();
  }
}

describe('an import that ends failed', () => {
  it('is reported by email with what went in before it stopped, how many were not processed, and why', async () => {
    const user = await signUp(h.app, { username: 'stopped_reader' });
    const books = [...validBooks(300, 'Stopped'), { title: 'Refused on sight', author: 'A', isbn: 'not-an-isbn' }];
    await diskFullFrom('Stopped volume 251');
    const requestId = await queueBulk(h.app, user, books);
    await h.drainBulk();
    const failed = await requestView(h.app, user, requestId);
    expect(failed).toMatchObject({ stage: 'failed', submitted: 301, inserted: 200 });
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
    expect(failed.lastError).toBe('the database was unavailable');

    const { text } = await pdfText(pdfOf(mail));
    for (const expected of [requestId, 'FAILED', 'FAILED AT', `Why it stopped: ${failed.lastError}`, 'Not processed', String(notProcessed)])
      expect(text).toContain(expected);

    // Still failed in the queue view, now with the report that told the user.
    expect(await requestView(h.app, user, requestId)).toMatchObject({ stage: 'failed', reportMessageId: mail.parsed.messageId });
    await runReportPass(h.deps);
    expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
  }, 90_000);
});
