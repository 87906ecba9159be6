// The API's side of account mail: it queues a message in Redis and never waits on SMTP; the report
// worker sends it (see apps/report-worker). A signup or a reset request therefore succeeds while
// SMTP is down, and the message goes out once SMTP is back.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { AccountMail } from '../schemas/account-mail.js';

/** A message as the caller describes it; the queue adds its id and time. */
export type NewAccountMail = AccountMail extends infer M ? (M extends AccountMail ? Omit<M, 'id' | 'queuedAt'> : never) : never;

export async function enqueueAccountMail(
  redis: RedisClient,
  keys: RedisKeys,
  mail: NewAccountMail,
  now = new Date(),
): Promise<AccountMail> {
  const message = { ...mail, id: randomUUID(), queuedAt: now.toISOString() } as AccountMail;
  await redis.rpush(keys.accountMailQueue(), JSON.stringify(message));
  return message;
}
