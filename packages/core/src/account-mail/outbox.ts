// The report worker's side of account mail. The API's list (account_mail) is only an inbox: a
// sender moves each message out of it into a hash (the message), a schedule (when it may next be
// tried) and an attempt count, all in one script, so that a message is never lost between a read
// and a delete and a crashed sender's message is simply tried again. Replicas take a lease per
// message (SET NX PX) before sending it. Once the SMTP server accepted a message, or it was given
// up, it is deleted (it holds a link or code) and its id alone is kept for a day in
// account_mail_done, so that a second copy of it (an RPUSH re-sent after a dropped connection) is
// not sent again. Every script may run twice with the effect of once.
import type { Result } from 'ioredis';
import Compile from 'typebox/compile';
import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { HOLDS_LEASE_LUA } from '../redis/lease.js';
import { defineScript } from '../redis/scripts.js';
import { type AccountMail, AccountMailSchema } from '../schemas/account-mail.js';

/** How long the id of a sent or dropped message is remembered, against a late second copy of it. */
export const ACCOUNT_MAIL_DONE_TTL_MS = 24 * 3_600_000;
/** Messages moved from the inbox per claim: bounds one script's run, the rest follow next pass. */
const MOVE_PER_CLAIM = 200;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    accountMailClaim(
      queue: string,
      messages: string,
      due: string,
      done: string,
      nowMs: number,
      moveMax: number,
      limit: number,
    ): Result<string[], Context>;
    accountMailFinish(
      messages: string,
      due: string,
      attempts: string,
      done: string,
      id: string,
      nowMs: number,
      doneTtlMs: number,
    ): Result<number, Context>;
    accountMailFailed(
      lease: string,
      messages: string,
      due: string,
      attempts: string,
      done: string,
      token: string,
      id: string,
      attempt: number,
      maxAttempts: number,
      permanent: number,
      nextAttemptMs: number,
      nowMs: number,
      doneTtlMs: number,
    ): Result<number | [number, number], Context>;
  }
}

// Deletes the message and remembers its id; the remembered ids are trimmed here, where they grow.
const FINISH_LUA = `
local function finish(messages, due, attempts, done, id, now_ms, done_ttl_ms)
  redis.call('HDEL', messages, id)
  redis.call('ZREM', due, id)
  redis.call('HDEL', attempts, id)
  redis.call('ZREMRANGEBYSCORE', done, '-inf', tonumber(now_ms) - tonumber(done_ttl_ms))
  redis.call('ZADD', done, 'NX', now_ms, id)
end`;

export const accountMailScripts = [
  // Moves new messages from the inbox (a copy of one already held or done is dropped), then lists
  // the ids due now. An entry that is not JSON with an id is kept under a digest of itself, so
  // that the sender finds it, refuses it and drops it with an error log.
  defineScript(
    'accountMailClaim',
    4,
    `
local now = tonumber(ARGV[1])
for _ = 1, tonumber(ARGV[2]) do
  local raw = redis.call('LPOP', KEYS[1])
  if not raw then break end
  local ok, mail = pcall(cjson.decode, raw)
  local id = ok and type(mail) == 'table' and mail.id or nil
  if type(id) ~= 'string' or id == '' then id = 'unreadable:' .. redis.sha1hex(raw) end
  if not redis.call('ZSCORE', KEYS[4], id) and redis.call('HSETNX', KEYS[2], id, raw) == 1 then
    redis.call('ZADD', KEYS[3], now, id)
  end
end
return redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))`,
  ),
  // Needs no lease: once the SMTP server has a message, recording it must not depend on whether
  // the sender kept its lease meanwhile.
  defineScript(
    'accountMailFinish',
    4,
    `${FINISH_LUA}
finish(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3])
return 1`,
  ),
  // A failed attempt, under the sender's lease: count it (numbered, so that a replay counts it
  // once), then schedule the retry or, if it was permanent or the last, give the message up.
  // Returns -1 if the lease is lost, else { attempts, 1 if given up }.
  defineScript(
    'accountMailFailed',
    5,
    `${HOLDS_LEASE_LUA}
${FINISH_LUA}
if not holds_lease(KEYS[1], ARGV[1]) then return -1 end
local id = ARGV[2]
if redis.call('HEXISTS', KEYS[2], id) == 0 then return { 0, 1 } end
local attempts = math.max(tonumber(redis.call('HGET', KEYS[4], id)) or 0, tonumber(ARGV[3]))
if ARGV[5] == '1' or attempts >= tonumber(ARGV[4]) then
  finish(KEYS[2], KEYS[3], KEYS[4], KEYS[5], id, ARGV[7], ARGV[8])
  return { attempts, 1 }
end
redis.call('HSET', KEYS[4], id, attempts)
redis.call('ZADD', KEYS[3], 'XX', ARGV[6], id)
return { attempts, 0 }`,
  ),
];

export interface HeldAccountMail {
  id: string;
  /** Null if the stored entry is not a valid message (another process wrote it): drop it. */
  mail: AccountMail | null;
  attempts: number;
  /** When it may next be tried (ms). */
  dueAt: number;
}

export interface AccountMailFailure {
  /** This attempt's number (attempts so far + 1). */
  attempt: number;
  maxAttempts: number;
  permanent: boolean;
  nextAttemptAt: Date;
  now: Date;
}

export interface AccountMailOutbox {
  /** Takes in what the API queued since, and lists up to `limit` ids due now. */
  claimDue(now: Date, limit: number): Promise<string[]>;
  /** The message as stored; null once it was sent or dropped. */
  read(id: string): Promise<HeldAccountMail | null>;
  /** The SMTP server accepted it, or it is given up: delete it (it holds a secret), remember the id. */
  finish(id: string, now: Date): Promise<void>;
  /** Null if the lease was lost (the attempt is then not counted). */
  recordFailure(id: string, token: string, failure: AccountMailFailure): Promise<{ attempts: number; dropped: boolean } | null>;
}

const mailValidator = Compile(AccountMailSchema);

export function createAccountMailOutbox(redis: RedisClient, keys: RedisKeys): AccountMailOutbox {
  const messages = keys.accountMailMessages();
  const due = keys.accountMailDue();
  const attempts = keys.accountMailAttempts();
  const done = keys.accountMailDone();
  return {
    claimDue: (now, limit) => redis.accountMailClaim(keys.accountMailQueue(), messages, due, done, now.getTime(), MOVE_PER_CLAIM, limit),
    async read(id) {
      const replies = await redis.multi().hget(messages, id).hget(attempts, id).zscore(due, id).exec();
      const [raw, count, dueAt] = (replies ?? []).map(([err, value]) => {
        if (err) throw err;
        return value as string | null;
      });
      if (raw == null || dueAt == null) return null;
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = null;
      }
      const mail = mailValidator.Check(parsed) && parsed.id === id ? parsed : null;
      return { id, mail, attempts: Number(count ?? 0) || 0, dueAt: Number(dueAt) };
    },
    async finish(id, now) {
      await redis.accountMailFinish(messages, due, attempts, done, id, now.getTime(), ACCOUNT_MAIL_DONE_TTL_MS);
    },
    async recordFailure(id, token, failure) {
      const result = await redis.accountMailFailed(
        keys.accountMailLease(id),
        messages,
        due,
        attempts,
        done,
        token,
        id,
        failure.attempt,
        failure.maxAttempts,
        failure.permanent ? 1 : 0,
        failure.nextAttemptAt.getTime(),
        failure.now.getTime(),
        ACCOUNT_MAIL_DONE_TTL_MS,
      );
      if (result === -1 || !Array.isArray(result)) return null;
      return { attempts: result[0], dropped: result[1] === 1 };
    },
  };
}
