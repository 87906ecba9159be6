// Reports as resources through the real processes: the report a user was emailed is listed and
// downloadable from the API byte for byte, and a resend asked through the API is sent by the
// report worker within seconds, with its own Message-ID and the same PDF.
import { reportsTo } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type System, signUp, startSystem, tag, waitFor } from './system.js';

let system: System;
beforeAll(async () => {
  system = await startSystem('e2e-reports');
  await system.start('api');
});
afterAll(() => system?.close());

const pdfOf = (mail: ReturnType<typeof reportsTo>[number]) => mail.parsed.attachments.find((a) => a.contentType === 'application/pdf')!;

it('a sent report is downloadable from the API as it was attached, and a resend sends it again with a new Message-ID', async () => {
  const user = await signUp(system, `stored_${tag()}`);
  const submitted = await system.api('POST', '/books/bulk', {
    token: user.token,
    body: { books: [{ title: 'Kept one', author: 'A' }, { title: 'Refused' }] },
  });
  expect(submitted.status).toBe(202);
  const { requestId } = submitted.body.data;
  await system.start('bulk-worker');
  const reporter = await system.start('report-worker');
  await waitFor(
    async () => reportsTo(system.smtp, user.email).length === 1,
    60_000,
    () => reporter.output(),
  );
  const [mail] = reportsTo(system.smtp, user.email);

  const covering = await system.api('GET', `/books/bulk/${requestId}/report`, { token: user.token });
  expect(covering.status).toBe(200);
  const report = covering.body.data;
  expect(report).toMatchObject({ requestIds: [requestId], deliveryState: 'sent', messageId: mail!.parsed.messageId });
  const download = await fetch(`${system.baseUrl}${covering.body.links.pdf}`, { headers: { authorization: `Bearer ${user.token}` } });
  expect(download.status).toBe(200);
  expect(download.headers.get('content-disposition')).toBe(`attachment; filename="${pdfOf(mail!).filename}"`);
  expect(Buffer.compare(Buffer.from(await download.arrayBuffer()), pdfOf(mail!).content)).toBe(0);

  const asked = await system.api('POST', `/reports/${report.id}/resend`, { token: user.token });
  expect(asked.status).toBe(202);
  expect((await system.api('POST', `/reports/${report.id}/resend`, { token: user.token })).status).toBe(429);
  await waitFor(
    async () => reportsTo(system.smtp, user.email).length === 2,
    30_000,
    () => reporter.output(),
  );
  const resent = reportsTo(system.smtp, user.email)[1]!;
  expect(resent.parsed.messageId).not.toBe(mail!.parsed.messageId);
  expect(Buffer.compare(pdfOf(resent).content, pdfOf(mail!).content)).toBe(0);
  await waitFor(
    async () => (await system.api('GET', `/reports/${report.id}`, { token: user.token })).body.data.resend.state === 'sent',
    10_000,
  );
  expect((await system.api('GET', `/reports/${report.id}`, { token: user.token })).body.data.resend).toMatchObject({
    count: 1,
    lastMessageId: resent.parsed.messageId,
  });
  // Some passes later, still one resend.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect(reportsTo(system.smtp, user.email)).toHaveLength(2);
}, 120_000);
