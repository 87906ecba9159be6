// Stored reports as resources: the caller's list, one report's metadata, its PDF byte for byte,
// the report of a bulk request, and resends queued under a throttle. The report worker's part
// (the row written around a send, the resend sent) is built through core's queries and
// transitions here; the report worker's own tests check it writes and sends exactly that.
import { randomBytes, randomUUID } from 'node:crypto';
import { createReportScripts } from '@books/core/bulk';
import { markReportSent, saveReportSending } from '@books/core/db';
import { acquireLease } from '@books/core/redis';
import { readResendRequests } from '@books/core/reports';
import { finishImport, signUp, type TestUser } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, openStores, type QueueStores, startApi } from './helpers.js';

let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  h = await startApi('reports', { REPORT_RETENTION_DAYS: '10' });
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const DAY = 86_400_000;
const get = (user: TestUser, url: string) => h.app.inject({ method: 'GET', url, headers: user.auth });
const resend = (user: TestUser, id: string) => h.app.inject({ method: 'POST', url: `/reports/${id}/resend`, headers: user.auth });

interface Stored {
  id: string;
  requestId: string;
  pdf: Buffer;
  filename: string;
  messageId: string;
}

/** As the report worker leaves it: the import reported (its requests completed) and the row sent. */
async function reportedImport(user: TestUser, options: { state?: 'sending' | 'sent'; now?: Date } = {}): Promise<Stored> {
  const requestId = await finishImport(stores, user.id, [{ title: 'Kept', author: 'A' }]);
  const id = randomUUID();
  const now = options.now ?? new Date();
  const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2048)]);
  const stored = {
    id,
    requestId,
    pdf,
    filename: `book-import-report-${now.toISOString().slice(0, 10)}-${id.slice(0, 8)}.pdf`,
    messageId: `<report-${id}@books.test>`,
  };
  await saveReportSending(stores.db, {
    ...stored,
    userId: user.id,
    requestIds: [requestId],
    recipient: user.email,
    subject: 'Your book import: 1 of 1 added',
    now,
    retentionMs: 10 * DAY,
  });
  if (options.state === 'sending') return stored;
  await markReportSent(stores.db, id, { messageId: stored.messageId, sentAt: now });
  const lease = await acquireLease(stores.redis, stores.keys.reportLease(user.id), 10_000);
  const scripts = createReportScripts(stores.redis, stores.keys, { recordTtlSeconds: 3600 });
  await scripts.complete(user.id, lease!.token, { requestIds: [requestId], completedAt: now, messageId: stored.messageId });
  await lease!.release();
  return stored;
}

describe('GET /reports', () => {
  it('lists the caller’s reports, newest first, paged, without PDF bytes', async () => {
    const user = await signUp(h.app);
    const older = await reportedImport(user, { now: new Date(Date.now() - 2 * DAY) });
    const newer = await reportedImport(user);
    const res = await get(user, '/reports?limit=1');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ success: true, total: 2, limit: 1, offset: 0 });
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toMatchObject({
      id: newer.id,
      requestIds: [newer.requestId],
      deliveryState: 'sent',
      messageId: newer.messageId,
      bytes: newer.pdf.length,
      filename: newer.filename,
      sentAt: expect.any(String),
      pdfUrl: `/reports/${newer.id}/pdf`,
      resend: { state: null, count: 0, lastMessageId: null },
    });
    expect(body.data[0]).not.toHaveProperty('pdf');
    const second = (await get(user, '/reports?limit=1&offset=1')).json();
    expect(second.data.map((r: { id: string }) => r.id)).toEqual([older.id]);
    expect((await get(user, '/reports?limit=0')).statusCode).toBe(400);
  });

  it('shows nothing of another user’s reports', async () => {
    const [owner, other] = await Promise.all([signUp(h.app), signUp(h.app)]);
    await reportedImport(owner);
    expect((await get(other, '/reports')).json()).toMatchObject({ data: [], total: 0 });
  });
});

describe('GET /reports/:id and /reports/:id/pdf', () => {
  it('answer the metadata and the stored PDF byte for byte, as an attachment under the email’s file name', async () => {
    const user = await signUp(h.app);
    const stored = await reportedImport(user);
    const meta = await get(user, `/reports/${stored.id}`);
    expect(meta.statusCode).toBe(200);
    const data = meta.json().data;
    expect(data).toMatchObject({ id: stored.id, deliveryState: 'sent', messageId: stored.messageId, bytes: stored.pdf.length });
    expect(Date.parse(data.expiresAt) - Date.parse(data.createdAt)).toBe(10 * DAY);

    const pdf = await get(user, `/reports/${stored.id}/pdf`);
    expect(pdf.statusCode).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.headers['content-disposition']).toBe(`attachment; filename="${stored.filename}"`);
    expect(Buffer.compare(pdf.rawPayload, stored.pdf)).toBe(0);
  });

  it('answer 404 for another user’s report, an unknown id, and a report past its expiry or the retention', async () => {
    const [owner, other] = await Promise.all([signUp(h.app), signUp(h.app)]);
    const stored = await reportedImport(owner);
    for (const url of [`/reports/${stored.id}`, `/reports/${stored.id}/pdf`]) {
      const res = await get(other, url);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ success: false, code: 'NOT_FOUND' });
    }
    expect((await resend(other, stored.id)).statusCode).toBe(404);
    expect((await get(owner, `/reports/${randomUUID()}`)).statusCode).toBe(404);

    const expired = await reportedImport(owner);
    await h.app.sql`update reports set expires_at = now() - interval '1 second' where id = ${expired.id}`;
    // Kept under an older, longer retention: today's 10 days hide it before the worker deletes it.
    const tooOld = await reportedImport(owner, { now: new Date(Date.now() - 11 * DAY) });
    await h.app.sql`update reports set expires_at = now() + interval '19 days' where id = ${tooOld.id}`;
    for (const gone of [expired, tooOld]) {
      expect((await get(owner, `/reports/${gone.id}`)).statusCode).toBe(404);
      expect((await get(owner, `/reports/${gone.id}/pdf`)).statusCode).toBe(404);
      expect((await get(owner, `/books/bulk/${gone.requestId}/report`)).json().code).toBe('REPORT_EXPIRED');
    }
    expect((await get(owner, '/reports')).json().data.map((r: { id: string }) => r.id)).toEqual([stored.id]);
  });
});

describe('GET /books/bulk/:requestId/report', () => {
  it('answers the report that covered the request, with links', async () => {
    const user = await signUp(h.app);
    const stored = await reportedImport(user);
    const res = await get(user, `/books/bulk/${stored.requestId}/report`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      success: true,
      data: { id: stored.id, requestIds: [stored.requestId] },
      links: { self: `/reports/${stored.id}`, pdf: `/reports/${stored.id}/pdf` },
    });
  });

  it('answers 404 REPORT_NOT_YET_SENT while the request awaits its report, NOT_FOUND for an unknown or another user’s', async () => {
    const [user, other] = await Promise.all([signUp(h.app), signUp(h.app)]);
    const requestId = await finishImport(stores, user.id, [{ title: 'Waiting', author: 'A' }]);
    const waiting = await get(user, `/books/bulk/${requestId}/report`);
    expect(waiting.statusCode).toBe(404);
    expect(waiting.json()).toMatchObject({ code: 'REPORT_NOT_YET_SENT', error: expect.stringContaining('processed awaiting report') });
    expect((await get(other, `/books/bulk/${requestId}/report`)).json()).toMatchObject({ code: 'NOT_FOUND' });
    const stored = await reportedImport(user);
    expect((await get(other, `/books/bulk/${stored.requestId}/report`)).statusCode).toBe(404);
    expect((await get(user, `/books/bulk/${randomUUID()}/report`)).json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('POST /reports/:id/resend', () => {
  it('queues a resend (202) for the report worker, then throttles the user for a minute (429 with Retry-After)', async () => {
    const user = await signUp(h.app);
    const [first, second] = [await reportedImport(user), await reportedImport(user)];
    const res = await resend(user, first.id);
    expect(res.statusCode).toBe(202);
    const { resendId } = res.json().data;
    expect(res.json().data).toMatchObject({ reportId: first.id, requestedAt: expect.any(String) });
    const queued = (await readResendRequests(stores.redis, stores.keys, 1000)).filter((q) => q.request?.userId === user.id);
    expect(queued.map((q) => q.request)).toEqual([
      { id: resendId, userId: user.id, reportId: first.id, requestedAt: res.json().data.requestedAt },
    ]);

    // Another report of the same user is throttled too: the limit is per user.
    for (const id of [first.id, second.id]) {
      const again = await resend(user, id);
      expect(again.statusCode).toBe(429);
      expect(again.json()).toMatchObject({ code: 'REPORT_RESEND_THROTTLED' });
      const retryAfter = Number(again.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    expect((await readResendRequests(stores.redis, stores.keys, 1000)).filter((q) => q.request?.userId === user.id)).toHaveLength(1);

    // Once the window is over (here: its key gone), the user may ask again.
    await stores.redis.del(stores.keys.reportResendThrottle(user.id));
    expect((await resend(user, second.id)).statusCode).toBe(202);
  });

  it('answers 409 REPORT_NOT_SENT_YET while the first send is under way, and queues nothing', async () => {
    const user = await signUp(h.app);
    const sending = await reportedImport(user, { state: 'sending' });
    const res = await resend(user, sending.id);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'REPORT_NOT_SENT_YET' });
    expect(await stores.redis.exists(stores.keys.reportResendThrottle(user.id))).toBe(0);
  });
});
