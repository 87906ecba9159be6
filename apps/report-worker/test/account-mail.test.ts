// The account-mail sender as a job: what the API queued reaches a real SMTP server once, with
// retries through outages, none after a 5xx, once across racing replicas, and no secret left in
// Redis or in the logs.
import { Writable } from 'node:stream';
import { type AccountMailOutbox, enqueueAccountMail, type NewAccountMail } from '@books/core/account-mail';
import { acquireLease } from '@books/core/redis';
import type { AccountMail } from '@books/core/schemas';
import type { ReceivedMail } from '@books/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAccountMailPass } from '../src/jobs/account-mail-pass.js';
import type { AccountMailDeps } from '../src/jobs/send-account-mail.js';
import { type ReportHarness, startReportHarness } from './harness.js';

let h: ReportHarness;
// REPORT_MAX_ATTEMPTS=3 comes from the harness; the first retry waits REPORT_RETRY_BASE_SECONDS.
const RETRY_BASE_MS = 1000;
beforeAll(async () => {
  h = await startReportHarness('account-mail', { REPORT_RETRY_BASE_SECONDS: '1', REPORT_LEASE_SECONDS: '3' });
});
afterAll(() => h?.close());
beforeEach(() => {
  h.smtp.deferAll = false;
  h.smtp.rejectRecipients.clear();
});

let n = 0;
const verifyEmail = (overrides: Partial<Extract<NewAccountMail, { kind: 'verify-email' }>> = {}): NewAccountMail => {
  n++;
  return {
    kind: 'verify-email',
    to: `reader${n}-${Date.now()}@example.com`,
    username: `reader_${n}`,
    link: `http://localhost:3002/auth/verify-email/secret-token-${n}-${'x'.repeat(20)}`,
    expiresAt: new Date(Date.now() + 24 * 3_600_000).toISOString(),
    ...overrides,
  };
};
const passwordReset = (): NewAccountMail => {
  n++;
  return {
    kind: 'password-reset',
    to: `resetter${n}-${Date.now()}@example.com`,
    username: `resetter_${n}`,
    code: String(100000 + n),
    expiresAt: new Date(Date.now() + 10 * 60_000).toISOString(),
  };
};

const queue = (mail: NewAccountMail, now?: Date) => enqueueAccountMail(h.deps.redis, h.deps.keys, mail, now);
const received = (to: string): ReceivedMail[] => h.smtp.messages.filter((m) => m.envelope.to.includes(to));
const messageIdOf = (mail: AccountMail) => `<account-${mail.id}@books.test>`;

/** A sender whose clock the test sets, and whose log lines the test reads. */
function sender(base: AccountMailDeps = h.deps.accountMail) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  let clock = Date.now();
  const deps: AccountMailDeps = { ...base, log: pino({ level: 'debug' }, stream), now: () => new Date(clock) };
  return {
    deps,
    lines,
    logText: () => JSON.stringify(lines),
    pass: () => runAccountMailPass(deps),
    /** Moves the clock past the backoff of attempt `attempt`. */
    afterBackoff(attempt: number) {
      clock += Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), 30 * RETRY_BASE_MS) + 1;
    },
    advance(ms: number) {
      clock += ms;
    },
  };
}

/** Nothing of the message is left in Redis but its id in the done set. */
async function expectGone(outbox: AccountMailOutbox, mail: AccountMail) {
  const { redis, keys } = h.deps;
  expect(await outbox.read(mail.id)).toBeNull();
  expect(await redis.hget(keys.accountMailMessages(), mail.id)).toBeNull();
  expect(await redis.zscore(keys.accountMailDue(), mail.id)).toBeNull();
  expect(await redis.hget(keys.accountMailAttempts(), mail.id)).toBeNull();
  expect(await redis.zscore(keys.accountMailDone(), mail.id)).not.toBeNull();
  const queued = await redis.lrange(keys.accountMailQueue(), 0, -1);
  expect(queued.some((raw) => raw.includes(mail.id))).toBe(false);
}

describe('a queued verification email', () => {
  it('is sent once, with its link, its expiry, a text and an HTML part and a Message-ID from its id; then nothing of it stays in Redis', async () => {
    const s = sender();
    const mail = await queue(verifyEmail({ username: 'alice_reader' }));
    const summary = await s.pass();
    expect(summary.sent).toBe(1);

    const [got, ...more] = received(mail.to);
    expect(more).toHaveLength(0);
    expect(got!.parsed.messageId).toBe(messageIdOf(mail));
    expect(got!.parsed.subject).toBe('Confirm your email address');
    expect(got!.parsed.from?.value[0]).toMatchObject({ address: 'reports@books.test', name: 'Books Reports' });
    if (mail.kind !== 'verify-email') throw new Error('unexpected kind');
    for (const part of [got!.parsed.text ?? '', got!.parsed.html || '']) {
      expect(part).toContain('Hello alice_reader,');
      expect(part).toContain(mail.link);
      expect(part).toContain('24 hours');
      expect(part).toMatch(
        /(January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}, \d{4} at \d{1,2}:\d{2} (AM|PM) UTC/,
      );
    }
    expect(got!.parsed.html).toContain(`href="${mail.link}"`);
    // No tracking: no images, no remote content.
    expect(got!.parsed.html).not.toMatch(/<img|url\(|src=/i);
    expect(s.logText()).not.toContain(mail.link);
    expect(s.lines.some((line) => line.msg === 'account mail sent' && line.mailId === mail.id)).toBe(true);

    await expectGone(h.deps.accountMail.outbox, mail);
    await s.pass();
    expect(received(mail.to)).toHaveLength(1);
  });

  it('a second copy of a message already sent (an RPUSH re-sent after a dropped connection) is not sent again', async () => {
    const s = sender();
    const mail = await queue(verifyEmail());
    await s.pass();
    await h.deps.redis.rpush(h.deps.keys.accountMailQueue(), JSON.stringify(mail));
    await s.pass();
    expect(received(mail.to)).toHaveLength(1);
    await expectGone(h.deps.accountMail.outbox, mail);
  });
});

describe('a password reset email', () => {
  it('carries the code and its 10-minute validity', async () => {
    const mail = await queue(passwordReset());
    const s = sender();
    await s.pass();
    const [got] = received(mail.to);
    if (mail.kind !== 'password-reset') throw new Error('unexpected kind');
    expect(got!.parsed.subject).toBe('Your password reset code');
    for (const part of [got!.parsed.text ?? '', got!.parsed.html || '']) {
      expect(part).toContain(mail.code);
      expect(part).toContain('valid for 10 minutes');
    }
    expect(s.logText()).not.toContain(mail.code);
    await expectGone(h.deps.accountMail.outbox, mail);
  });
});

describe('failures', () => {
  it('SMTP down, then back: the message waits, is retried with backoff and delivered exactly once', async () => {
    const s = sender();
    await h.smtp.stop();
    const mail = await queue(verifyEmail());
    try {
      expect((await s.pass()).retry_later).toBe(1);
      const held = await h.deps.accountMail.outbox.read(mail.id);
      expect(held).toMatchObject({ attempts: 1 });
      // Not before its backoff.
      expect((await s.pass()).messages).toBe(0);
    } finally {
      await h.smtp.start();
    }
    s.afterBackoff(1);
    expect((await s.pass()).sent).toBe(1);
    s.afterBackoff(2);
    await s.pass();
    expect(received(mail.to)).toHaveLength(1);
    expect(received(mail.to)[0]!.parsed.messageId).toBe(messageIdOf(mail));
    expect(s.logText()).not.toContain(mail.kind === 'verify-email' ? mail.link : '');
    await expectGone(h.deps.accountMail.outbox, mail);
  });

  it('a 4xx answer is retried; once the server takes it, it is delivered exactly once', async () => {
    const s = sender();
    h.smtp.deferAll = true;
    const mail = await queue(passwordReset());
    expect((await s.pass()).retry_later).toBe(1);
    s.afterBackoff(1);
    expect((await s.pass()).retry_later).toBe(1);
    expect(await h.deps.accountMail.outbox.read(mail.id)).toMatchObject({ attempts: 2 });
    h.smtp.deferAll = false;
    s.afterBackoff(2);
    expect((await s.pass()).sent).toBe(1);
    s.afterBackoff(3);
    await s.pass();
    expect(received(mail.to)).toHaveLength(1);
    await expectGone(h.deps.accountMail.outbox, mail);
  });

  it('a 5xx is not retried: the message is given up at once with an error log that holds no link', async () => {
    const s = sender();
    const mail = await queue(verifyEmail());
    h.smtp.rejectRecipients.add(mail.to);
    expect((await s.pass()).dropped).toBe(1);
    h.smtp.rejectRecipients.clear();
    s.afterBackoff(1);
    s.afterBackoff(2);
    expect((await s.pass()).messages).toBe(0);
    expect(received(mail.to)).toHaveLength(0);
    const given = s.lines.find((line) => line.msg === 'account mail could not be delivered; given up');
    expect(given).toMatchObject({ level: 50, mailId: mail.id, kind: 'verify-email', permanent: true, attempts: 1 });
    expect(s.logText()).not.toContain(mail.kind === 'verify-email' ? mail.link : '');
    await expectGone(h.deps.accountMail.outbox, mail);
  });

  it('after REPORT_MAX_ATTEMPTS temporary failures the message is dropped with an error log', async () => {
    const s = sender();
    h.smtp.deferAll = true;
    const mail = await queue(passwordReset());
    expect((await s.pass()).retry_later).toBe(1);
    s.afterBackoff(1);
    expect((await s.pass()).retry_later).toBe(1);
    s.afterBackoff(2);
    expect((await s.pass()).dropped).toBe(1);
    h.smtp.deferAll = false;
    s.afterBackoff(3);
    expect((await s.pass()).messages).toBe(0);
    expect(received(mail.to)).toHaveLength(0);
    expect(s.lines.find((line) => line.msg === 'account mail could not be delivered; given up')).toMatchObject({
      level: 50,
      mailId: mail.id,
      attempts: 3,
      permanent: false,
    });
    expect(s.logText()).not.toContain(mail.kind === 'password-reset' ? mail.code : '');
    await expectGone(h.deps.accountMail.outbox, mail);
  });

  it("a crashed sender's claim expires with its lease, and the message then goes out once", async () => {
    const s = sender();
    const mail = await queue(verifyEmail());
    // A replica that took the lease and died: the lease is there, nobody renews it.
    const dead = await acquireLease(h.deps.redis, h.deps.keys.accountMailLease(mail.id), 1500);
    expect(dead).not.toBeNull();
    expect((await s.pass()).skipped).toBe(1);
    expect(received(mail.to)).toHaveLength(0);
    await expect.poll(() => h.deps.redis.exists(h.deps.keys.accountMailLease(mail.id)), { timeout: 5000, interval: 100 }).toBe(0);
    expect((await s.pass()).sent).toBe(1);
    expect(received(mail.to)).toHaveLength(1);
  });

  it('an entry that is not a valid message is dropped with an error log, and does not hold up the others', async () => {
    const s = sender();
    await h.deps.redis.rpush(h.deps.keys.accountMailQueue(), '{"kind":"verify-email","to":"x@example.com"');
    const mail = await queue(verifyEmail());
    const summary = await s.pass();
    expect(summary).toMatchObject({ sent: 1, dropped: 1 });
    expect(received(mail.to)).toHaveLength(1);
    expect(s.lines.some((line) => line.level === 50 && line.msg === 'an account mail entry is not a valid message; dropped')).toBe(true);
    expect(await h.deps.redis.hlen(h.deps.keys.accountMailMessages())).toBe(0);
  });

  it('a message whose link expired before it could be sent is dropped, not sent', async () => {
    const s = sender();
    const mail = await queue(verifyEmail({ expiresAt: new Date(Date.now() + 60_000).toISOString() }));
    s.advance(61_000);
    expect((await s.pass()).dropped).toBe(1);
    expect(received(mail.to)).toHaveLength(0);
    await expectGone(h.deps.accountMail.outbox, mail);
  });
});

it('two sender replicas racing over the same queue send each message exactly once', async () => {
  const a = sender(h.deps.accountMail);
  const b = sender(h.replica({ REPORT_RETRY_BASE_SECONDS: '1' }).accountMail);
  const mails = await Promise.all(Array.from({ length: 40 }, (_, i) => queue(i % 2 ? verifyEmail() : passwordReset())));
  for (let round = 0; round < 5; round++) await Promise.all([a.pass(), b.pass(), a.pass(), b.pass()]);
  const ids = new Map<string, number>();
  for (const m of h.smtp.messages) ids.set(m.parsed.messageId ?? '', (ids.get(m.parsed.messageId ?? '') ?? 0) + 1);
  for (const mail of mails) expect(ids.get(messageIdOf(mail)), mail.id).toBe(1);
  const sentBy = (s: ReturnType<typeof sender>) => s.lines.filter((line) => line.msg === 'account mail sent').length;
  expect(sentBy(a) + sentBy(b)).toBe(mails.length);
  expect(await h.deps.redis.hlen(h.deps.keys.accountMailMessages())).toBe(0);
});

it('a hostile username is escaped in the HTML part and kept as written in the text part', async () => {
  const username = `<script>alert("x")</script>&amp;'<img src=x onerror=alert(1)>`;
  const mail = await queue(verifyEmail({ username }));
  await sender().pass();
  const [got] = received(mail.to);
  const html = got!.parsed.html || '';
  expect(html).not.toContain('<script>');
  expect(html).not.toContain('<img');
  expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;&#39;&lt;img src=x onerror=alert(1)&gt;');
  expect(got!.parsed.text).toContain(`Hello ${username},`);
});
