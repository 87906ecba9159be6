import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishImport, finishQueuedImport, insertUser, queueImport, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReportPass } from '../src/jobs/report-pass.js';
import { mailsTo, pdfOf, pdfText, type ReportHarness, startReportHarness, validBooks } from './harness.js';

let h: ReportHarness;
beforeAll(async () => {
  h = await startReportHarness('report');
});
afterAll(() => h?.close());

const later = (minutes: number) => () => new Date(Date.now() + minutes * 60_000);

describe('a processed import', () => {
  it('is reported once, to the user, with the counts in the subject, a styled body and a PDF that says everything', async () => {
    const user = await insertUser(h.stores.db, 'alice_reader');
    const requestId = await finishImport(h.stores, user.id, [
      ...validBooks(4, 'Alice'),
      { title: 'Corrupted Book', author: 'Unknown Author', isbn: '978-0-00-000000-1' },
      { title: 'No author at all' },
    ]);
    expect((await readImport(h.stores, user.id, requestId)).stage).toBe('processed_awaiting_report');

    const summary = await runReportPass(h.deps);
    expect(summary.sent).toBeGreaterThanOrEqual(1);
    const mails = mailsTo(h.smtp, user.email);
    expect(mails).toHaveLength(1);
    const [mail] = mails;
    expect(mail!.envelope.to).toEqual([user.email]);
    expect(mail!.parsed.from?.value[0]).toMatchObject({ address: 'reports@books.test', name: 'Books Reports' });
    expect(mail!.parsed.subject).toBe('Your book import: 4 of 6 added, 2 failed');
    expect(mail!.parsed.html).toContain('66.7%');
    expect(mail!.parsed.html).toContain('Corrupted Book');
    expect(mail!.parsed.text).toContain('Success rate: 66.7%');
    const attachment = mail!.parsed.attachments[0]!;
    expect(attachment.filename).toMatch(/^book-import-report-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}\.pdf$/);

    const { text } = await pdfText(pdfOf(mail!));
    for (const expected of [
      'alice_reader',
      user.email,
      'Acme Books Ltd',
      requestId,
      '66.7%',
      'Corrupted Book',
      'isbn is not a valid ISBN',
      'No author at all',
      'author is required',
    ]) {
      expect(text).toContain(expected);
    }
    expect(text).toMatch(/\b6\b/);
    expect(text).toMatch(
      /(January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}(st|nd|rd|th) \d{4}, \d{1,2}:\d{2}:\d{2} (am|pm)/,
    );

    const view = await readImport(h.stores, user.id, requestId);
    expect(view).toMatchObject({ stage: 'completed', completedAt: expect.any(String), reportMessageId: mail!.parsed.messageId });
    expect(await h.deps.redis.exists(h.deps.keys.bulkStatus(user.id))).toBe(0);
    expect(await h.deps.redis.zscore(h.deps.keys.reportPending(user.id), user.id)).toBeNull();

    await runReportPass(h.deps);
    expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
  });

  it('with 300 failures makes a multi-page PDF listing every one', async () => {
    const user = await insertUser(h.stores.db);
    const bad = Array.from({ length: 300 }, (_, n) => ({ title: `Broken ${n}`, author: 'A', isbn: 'not-an-isbn' }));
    await finishImport(h.stores, user.id, [...validBooks(2, 'Fine'), ...bad]);
    await runReportPass(h.deps);
    const [mail] = mailsTo(h.smtp, user.email);
    const { pages, text } = await pdfText(pdfOf(mail!));
    expect(pages).toBeGreaterThan(1);
    for (let n = 0; n < 300; n++) expect(text).toContain(`Broken ${n}`);
    expect(text).toContain(`Page 1 of ${pages}`);
  });

  it('covers every request processed since the last report, one section each, in one email', async () => {
    const user = await insertUser(h.stores.db);
    // Both queued before the bulk worker's pass finishes them.
    const first = await queueImport(h.stores, user.id, validBooks(2, 'First'));
    const second = await queueImport(h.stores, user.id, validBooks(3, 'Second'));
    for (const requestId of [first, second]) await finishQueuedImport(h.stores, user.id, requestId);
    await runReportPass(h.deps);
    const mails = mailsTo(h.smtp, user.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.parsed.subject).toBe('Your 2 book imports: 5 of 5 added');
    const { text } = await pdfText(pdfOf(mails[0]!));
    expect(text).toContain(first);
    expect(text).toContain(second);
  });

  it('keeps three users apart: three messages, each with only its own data', async () => {
    const users = await Promise.all([insertUser(h.stores.db), insertUser(h.stores.db), insertUser(h.stores.db)]);
    for (const [n, user] of users.entries())
      await finishImport(h.stores, user.id, [
        ...validBooks(n + 1, `Owner${n}`),
        { title: `Failed${n}`, author: 'A', publishedYear: 99999 },
      ]);
    await runReportPass(h.deps);
    for (const [n, user] of users.entries()) {
      const mails = mailsTo(h.smtp, user.email);
      expect(mails).toHaveLength(1);
      const { text } = await pdfText(pdfOf(mails[0]!));
      expect(text).toContain(user.username);
      expect(text).toContain(`Failed${n}`);
      for (const [m, other] of users.entries()) {
        if (m === n) continue;
        expect(text).not.toContain(other.username);
        expect(text).not.toContain(`Failed${m}`);
        expect(mails[0]!.parsed.html).not.toContain(`Failed${m}`);
      }
    }
  });

  it('shows HTML in a title as text, not markup', async () => {
    const user = await insertUser(h.stores.db);
    await finishImport(h.stores, user.id, [{ title: '<script>alert(1)</script><b>bold</b>', author: 'A', isbn: 'bad' }]);
    await runReportPass(h.deps);
    const [mail] = mailsTo(h.smtp, user.email);
    const raw = mail!.parsed.html as string;
    expect(raw).not.toContain('<script>');
    expect(raw).not.toContain('<b>bold</b>');
    expect(raw).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;');
  });
});

describe('exactly one email', () => {
  it('two passes at the same moment send one message', async () => {
    const user = await insertUser(h.stores.db);
    await finishImport(h.stores, user.id, validBooks(3, 'Twice'));
    await Promise.all([runReportPass(h.deps), runReportPass(h.replica())]);
    expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
  });

  it('a crash after sending but before the clean-up sends nothing more on the next pass', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await finishImport(h.stores, user.id, validBooks(2, 'Crash'));
    const crashing = {
      ...h.deps,
      scripts: {
        ...h.deps.scripts,
        complete: async () => {
          throw new Error('killed before the clean-up');
        },
      },
    };
    await runReportPass(crashing);
    expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
    expect((await readImport(h.stores, user.id, requestId)).stage).toBe('processed_awaiting_report');

    const summary = await runReportPass(h.deps);
    expect(summary.cleaned_up).toBe(1);
    expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({
      stage: 'completed',
      reportMessageId: mailsTo(h.smtp, user.email)[0]!.parsed.messageId,
    });
  });
});

describe('SMTP failures', () => {
  it('SMTP down: the status stays, and a later pass delivers exactly once', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await finishImport(h.stores, user.id, validBooks(2, 'Outage'));
    await h.smtp.stop();
    try {
      const down = await runReportPass(h.replica());
      expect(down.retry_later).toBeGreaterThanOrEqual(1);
    } finally {
      await h.smtp.start();
    }
    const status = await h.deps.redis.hgetall(h.deps.keys.bulkStatus(user.id));
    expect(status).toMatchObject({
      stage: 'processed_awaiting_report',
      reportAttempts: '1',
      lastError: 'the mail server could not be reached',
    });
    expect((await readImport(h.stores, user.id, requestId)).stage).toBe('processed_awaiting_report');

    await runReportPass(h.deps);
    expect(mailsTo(h.smtp, user.email)).toHaveLength(0);
    await runReportPass({ ...h.deps, now: later(5) });
    expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
    await runReportPass({ ...h.deps, now: later(60) });
    expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
    expect((await readImport(h.stores, user.id, requestId)).stage).toBe('completed');
  });

  it('a temporary failure that outlasts REPORT_MAX_ATTEMPTS marks the requests failed', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await finishImport(h.stores, user.id, validBooks(1, 'Deferred'));
    h.smtp.deferAll = true;
    try {
      for (let attempt = 1; attempt <= 3; attempt++) await runReportPass({ ...h.deps, now: later(attempt * 60) });
    } finally {
      h.smtp.deferAll = false;
    }
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({
      stage: 'failed',
      lastError: 'report not delivered: the mail server could not take the message for now (451)',
    });
    expect(await h.deps.redis.exists(h.deps.keys.bulkStatus(user.id))).toBe(0);
  });

  it('a permanent 5xx (unknown recipient) marks the requests failed at once, visible in admin stats', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await finishImport(h.stores, user.id, validBooks(1, 'Bounce'));
    h.smtp.rejectRecipients.add(user.email);
    const before = await h.deps.redis.zcard(h.deps.keys.bulkFailed(user.id));
    const summary = await runReportPass(h.deps);
    expect(summary.failed).toBe(1);
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({
      stage: 'failed',
      lastError: 'report not delivered: the mail server refused the recipient address (550)',
    });
    expect(await h.deps.redis.zcard(h.deps.keys.bulkFailed(user.id))).toBe(before + 1);
    expect(mailsTo(h.smtp, user.email)).toHaveLength(0);
  });
});

describe('PDF_OUTPUT_DIR', () => {
  it('keeps the PDF on disk until it is sent, then removes it when PDF_CLEANUP_AFTER_SEND is true', async () => {
    // Anything earlier tests left pending goes out first, so the directories see only these two.
    await runReportPass({ ...h.deps, now: later(24 * 60) });
    const keep = mkdtempSync(join(tmpdir(), 'reports-keep-'));
    const clean = mkdtempSync(join(tmpdir(), 'reports-clean-'));
    try {
      const keeper = h.replica({ PDF_OUTPUT_DIR: keep, PDF_CLEANUP_AFTER_SEND: 'false' });
      const cleaner = h.replica({ PDF_OUTPUT_DIR: clean, PDF_CLEANUP_AFTER_SEND: 'true' });
      const [a, b] = await Promise.all([insertUser(h.stores.db), insertUser(h.stores.db)]);
      await finishImport(h.stores, a.id, validBooks(1, 'Kept'));
      await runReportPass(keeper);
      const kept = readdirSync(keep);
      expect(kept).toHaveLength(1);
      expect(kept[0]).toBe(mailsTo(h.smtp, a.email)[0]!.parsed.attachments[0]!.filename);
      await finishImport(h.stores, b.id, validBooks(1, 'Cleaned'));
      await runReportPass(cleaner);
      expect(mailsTo(h.smtp, b.email)).toHaveLength(1);
      expect(existsSync(clean) && readdirSync(clean)).toEqual([]);
    } finally {
      rmSync(keep, { recursive: true, force: true });
      rmSync(clean, { recursive: true, force: true });
    }
  });
});

describe('a very large import', () => {
  it('lists the first 500 failures in the PDF and every one, with its reason, in a CSV attachment', async () => {
    const user = await insertUser(h.stores.db);
    const bad = Array.from({ length: 520 }, (_, n) => ({
      title: n === 0 ? '=HYPERLINK("x")' : n === 1 ? '\t=1+1' : `Bad, "quoted" ${n}`,
      author: 'A',
      isbn: 'nope',
    }));
    await finishImport(h.stores, user.id, [...validBooks(1, 'Good'), ...bad]);
    await runReportPass({ ...h.deps, now: later(24 * 60) });
    const [mail] = mailsTo(h.smtp, user.email);
    expect(mail!.parsed.subject).toBe('Your book import: 1 of 521 added, 520 failed');
    const csv = mail!.parsed.attachments.find((a) => a.contentType === 'text/csv');
    const lines = csv!.content.toString().trim().split('\r\n');
    expect(lines[0]).toBe('request_id,index,title,author,reason');
    expect(lines).toHaveLength(521);
    expect(lines[1]).toContain(`,1,"'=HYPERLINK(""x"")",A,`);
    // A tab may hide a formula from the eye, not from the spreadsheet (OWASP).
    expect(lines[2]).toContain(`,2,'\t=1+1,A,`);
    expect(lines[520]).toContain(',520,"Bad, ""quoted"" 519",A,');
    const { text } = await pdfText(pdfOf(mail!));
    expect(text).toContain('Failed books (520)');
    expect(text).toContain('Bad, "quoted" 499');
    expect(text).not.toContain('Bad, "quoted" 500');
    expect(text).toContain('and 20 more failed books');
  }, 120_000);
});
