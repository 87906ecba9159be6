// Queues an account email without letting Redis fail the request that asked for it: the account
// change is already committed, and the user can ask for another email.
import { enqueueAccountMail, type NewAccountMail } from '@books/core/account-mail';
import type { RedisClient, RedisKeys } from '@books/core/redis';
import type { FastifyBaseLogger } from 'fastify';

export async function queueAccountMail(
  deps: { redis: RedisClient; keys: RedisKeys; log: FastifyBaseLogger },
  mail: NewAccountMail,
  userId: string,
): Promise<boolean> {
  try {
    await enqueueAccountMail(deps.redis, deps.keys, mail);
    return true;
  } catch (err) {
    deps.log.warn({ err, userId, kind: mail.kind }, 'could not queue an account email; the user can ask for another');
    return false;
  }
}
