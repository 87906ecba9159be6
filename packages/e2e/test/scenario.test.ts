// The seed's multi-user scenario, end to end, through the three real processes.
import { isAccountMail, pdfText, reportsTo, verifyEmail } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isbn13, type SignedUp, type System, signUp, startSystem, tag, waitFor } from './system.js';

let system: System;
beforeAll(async () => {
  system = await startSystem('e2e-scenario', { ADMIN_EMAILS: 'admin@example.com' });
  await system.start('api');
});
afterAll(() => system?.close());

interface Plan {
  user: SignedUp;
  books: Record<string, unknown>[];
  /** Titles that must end up in the collection. */
  expected: string[];
  /** Titles that must be reported as failed. */
  failed: string[];
  requestId?: string;
}

it('three users import at once; each gets exactly their valid books and one report of their own', async () => {
  const t = tag();
  const [alice, bob, carol] = await Promise.all([signUp(system, `alice_${t}`), signUp(system, `bob_${t}`), signUp(system, `carol_${t}`)]);
  const admin = await signUp(system, `admin_${t}`, 'admin@example.com');
  await verifyEmail(system.ctx.database.url, admin.id);

  // Carol already owns a book whose ISBN her import repeats.
  const owned = await system.api('POST', '/books', {
    token: carol!.token,
    body: { title: 'Carol owns this', author: 'C', isbn: isbn13(3, 999) },
  });
  expect(owned.status).toBe(201);

  const range = (n: number, prefix: string, isbnPrefix: number) =>
    Array.from({ length: n }, (_, i) => ({
      title: `${prefix} book ${i + 1}`,
      author: `${prefix} author`,
      isbn: isbn13(isbnPrefix, i),
      publishedYear: 1990 + i,
    }));
  const alicesBooks = range(8, 'Alice', 1);
  const bobsBooks = range(15, 'Bob', 2);
  const carolsBooks = range(4, 'Carol', 3);
  const plans: Plan[] = [
    {
      user: alice!,
      books: [
        ...alicesBooks,
        { title: 'Alice no author' },
        { title: 'Alice bad year', author: 'A', publishedYear: 'soon' },
        { ...alicesBooks[0], title: 'Alice duplicate ISBN' },
      ],
      expected: alicesBooks.map((b) => b.title),
      failed: ['Alice no author', 'Alice bad year', 'Alice duplicate ISBN'],
    },
    {
      user: bob!,
      books: [...bobsBooks, { title: 'Bob bad ISBN', author: 'B', isbn: '978-0-00-000000-0' }],
      expected: bobsBooks.map((b) => b.title),
      failed: ['Bob bad ISBN'],
    },
    {
      user: carol!,
      books: [...carolsBooks, { title: 'Carol repeats her ISBN', author: 'C', isbn: isbn13(3, 999) }],
      expected: [...carolsBooks.map((b) => b.title), 'Carol owns this'],
      failed: ['Carol repeats her ISBN'],
    },
  ];

  const accepted = await Promise.all(
    plans.map((plan) => system.api('POST', '/books/bulk', { token: plan.user.token, body: { books: plan.books } })),
  );
  for (const [n, res] of accepted.entries()) {
    expect(res.status).toBe(202);
    plans[n]!.requestId = res.body.data.requestId;
  }

  const stageOf = async (plan: Plan) => {
    const queue = await system.api('GET', '/books/queue', { token: plan.user.token });
    return queue.body.data.requests.find((r: { requestId: string }) => r.requestId === plan.requestId)?.stage;
  };
  for (const plan of plans) expect(await stageOf(plan)).toBe('queued');

  // The bulk worker alone first, so the stage in between can be seen before any report goes out.
  const bulk = await system.start('bulk-worker');
  await waitFor(
    async () => (await Promise.all(plans.map(stageOf))).every((s) => s === 'processed_awaiting_report'),
    30_000,
    () => bulk.output(),
  );
  await system.start('report-worker');
  await waitFor(async () => (await Promise.all(plans.map(stageOf))).every((s) => s === 'completed'), 60_000);

  for (const plan of plans) {
    const list = await system.api('GET', '/books?limit=1000', { token: plan.user.token });
    expect(list.body.data.map((b: { title: string }) => b.title).sort()).toEqual([...plan.expected].sort());

    const detail = await system.api('GET', `/books/bulk/${plan.requestId}`, { token: plan.user.token });
    expect(detail.body.data.failedItems.map((f: { title: string }) => f.title).sort()).toEqual([...plan.failed].sort());

    const mails = reportsTo(system.smtp, plan.user.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.envelope.to).toEqual([plan.user.email]);
    const pdf = mails[0]!.parsed.attachments.find((a) => a.contentType === 'application/pdf');
    const { text } = await pdfText(pdf!.content);
    expect(text).toContain(plan.user.username);
    for (const title of plan.failed) expect(text).toContain(title);
    for (const other of plans.filter((p) => p !== plan)) {
      expect(text).not.toContain(other.user.username);
      for (const title of other.failed) expect(text).not.toContain(title);
    }
  }
  expect(system.smtp.messages.filter((m) => !isAccountMail(m))).toHaveLength(3);

  const stats = await system.api('GET', '/admin/stats', { token: admin.token });
  expect(stats.status).toBe(200);
  expect(stats.body.data).toEqual({
    totalUsers: 4,
    totalBooks: plans.reduce((n, plan) => n + plan.expected.length, 0),
    pendingBulkJobs: 0,
    pendingReports: 0,
    failedRequests: 0,
    oldestPendingAgeSeconds: null,
    // The one replica of each worker this scenario runs, alive and passing.
    workers: {
      'bulk-worker': expect.objectContaining({ alive: 1, problem: null }),
      'report-worker': expect.objectContaining({ alive: 1, problem: null }),
    },
  });
  expect((await system.api('GET', '/admin/stats', { token: alice!.token })).status).toBe(403);
});
