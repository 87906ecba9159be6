// REPORTS_REQUIRE_VERIFIED_EMAIL: true holds a user's report, pending and with no attempt counted,
// until users.email_verified_at is set; false (the default) reports to unverified addresses, as
// the seed's clients, which never verify, expect.
import { readReportStatus } from '@books/core/bulk';
import { finishImport, insertUser, readImport, verifyEmail } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runReportPass } from '../src/jobs/report-pass.js';
import { mailsTo, type ReportHarness, startReportHarness, validBooks } from './harness.js';

let h: ReportHarness;
beforeAll(async () => {
  h = await startReportHarness('verified-email-reports');
});
afterAll(() => h?.close());

it('with REPORTS_REQUIRE_VERIFIED_EMAIL=true, a report waits, not failed and not counted, until the address is verified', async () => {
  const strict = h.replica({ REPORTS_REQUIRE_VERIFIED_EMAIL: 'true' });
  const user = await insertUser(h.stores.db, 'unverified_reader');
  const requestId = await finishImport(h.stores, user.id, validBooks(3, 'Waiting'));

  for (let pass = 0; pass < 3; pass++) {
    const summary = await runReportPass(strict);
    expect(summary).toMatchObject({ waiting: 1, sent: 0, failed: 0, retry_later: 0 });
  }
  expect(mailsTo(h.smtp, user.email)).toHaveLength(0);
  expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'processed_awaiting_report', lastError: null });
  expect(await readReportStatus(strict.redis, strict.keys, user.id)).toMatchObject({ reportAttempts: 0, nextAttemptAt: null });

  await verifyEmail(h.ctx.database.url, user.id);
  expect((await runReportPass(strict)).sent).toBe(1);
  expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
  expect(mailsTo(h.smtp, user.email)[0]!.parsed.subject).toBe('Your book import: 3 of 3 added');
  expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'completed' });
});

it('with REPORTS_REQUIRE_VERIFIED_EMAIL unset (false), an unverified address gets its report as before', async () => {
  const user = await insertUser(h.stores.db, 'seed_client');
  const requestId = await finishImport(h.stores, user.id, validBooks(2, 'Unverified'));
  expect((await runReportPass(h.deps)).sent).toBe(1);
  expect(mailsTo(h.smtp, user.email)).toHaveLength(1);
  expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'completed' });
});
