// The account-mail scripts applied twice, as ioredis does when it re-sends a script that was in
// flight on a dropped connection: each has the effect of once.
import { expect, it } from 'vitest';
import { createAccountMailOutbox, enqueueAccountMail } from '../src/account-mail/index.js';
import { acquireLease } from '../src/redis/lease.js';
import { redisNamespace } from './redis-namespace.js';

const { redis, keys } = redisNamespace('account-mail-outbox');
const outbox = createAccountMailOutbox(redis, keys);
const mail = (n: number) => ({
  kind: 'password-reset' as const,
  to: `r${n}@example.com`,
  username: `r${n}`,
  code: '123456',
  expiresAt: new Date(Date.now() + 600_000).toISOString(),
});

it('claiming twice takes each message in once; a second copy of a held message is dropped', async () => {
  const now = new Date();
  const queued = await enqueueAccountMail(redis, keys, mail(1), now);
  await redis.rpush(keys.accountMailQueue(), JSON.stringify(queued));
  expect(await outbox.claimDue(now, 10)).toEqual([queued.id]);
  expect(await outbox.claimDue(now, 10)).toEqual([queued.id]);
  expect(await redis.llen(keys.accountMailQueue())).toBe(0);
  expect(await outbox.read(queued.id)).toMatchObject({ id: queued.id, mail: queued, attempts: 0, dueAt: now.getTime() });
});

it('a failed attempt recorded twice counts once, and needs the lease', async () => {
  const now = new Date();
  const queued = await enqueueAccountMail(redis, keys, mail(2), now);
  await outbox.claimDue(now, 10);
  const lease = await acquireLease(redis, keys.accountMailLease(queued.id), 10_000);
  const failure = { attempt: 1, maxAttempts: 3, permanent: false, now, nextAttemptAt: new Date(now.getTime() + 1000) };
  expect(await outbox.recordFailure(queued.id, lease!.token, failure)).toEqual({ attempts: 1, dropped: false });
  expect(await outbox.recordFailure(queued.id, lease!.token, failure)).toEqual({ attempts: 1, dropped: false });
  expect(await outbox.recordFailure(queued.id, 'not-the-token', { ...failure, attempt: 2 })).toBeNull();
  expect(await outbox.read(queued.id)).toMatchObject({ attempts: 1, dueAt: now.getTime() + 1000 });
  expect(await outbox.claimDue(now, 10)).not.toContain(queued.id);
  await lease!.release();
});

it('finishing twice leaves only the id, and a later copy of the message is not taken in', async () => {
  const now = new Date();
  const queued = await enqueueAccountMail(redis, keys, mail(3), now);
  await outbox.claimDue(now, 10);
  await outbox.finish(queued.id, now);
  await outbox.finish(queued.id, now);
  expect(await outbox.read(queued.id)).toBeNull();
  expect(await redis.zscore(keys.accountMailDone(), queued.id)).toBe(String(now.getTime()));
  await redis.rpush(keys.accountMailQueue(), JSON.stringify(queued));
  expect(await outbox.claimDue(now, 10)).not.toContain(queued.id);
  expect(await redis.hexists(keys.accountMailMessages(), queued.id)).toBe(0);
});
