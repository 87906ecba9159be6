// Every Lua script of the system, in one list. createRedisClient registers them all on each client
// it creates, so no client can send a command before its script is defined: an auto-pipelining
// client would otherwise fail inside its pipeline callback (redis/ioredis#1931).
import { accountMailScripts } from '../account-mail/outbox.js';
import { redriveScripts } from '../bulk/redrive.js';
import { submitScripts } from '../bulk/submit-scripts.js';
import { requestTransitionScripts } from '../bulk/transition-scripts.js';
import { booksCacheScripts } from '../cache/books-cache.js';
import { reportResendScripts } from '../reports/resend-queue.js';
import type { RedisClient } from './client.js';
import { leaseScripts } from './lease.js';
import { rateLimitScripts } from './rate-limit-script.js';
import { type RedisScript, registerScripts } from './scripts.js';

export const ALL_SCRIPTS: readonly RedisScript[] = [
  ...leaseScripts,
  ...booksCacheScripts,
  ...submitScripts,
  ...requestTransitionScripts,
  ...redriveScripts,
  ...rateLimitScripts,
  ...accountMailScripts,
  ...reportResendScripts,
];

/**
 * The scripts whose key count varies (the caller passes it first). On a cluster, ioredis's
 * auto-pipelining routes a command by its first argument, which for these is the count, not a key:
 * it would put the command in another node's pipeline, and ioredis then fails that whole pipeline
 * ("All keys in the pipeline should belong to the same slots allocation group"), the other
 * requests' commands with it. So a cluster client sends these outside its auto-pipelines.
 */
export const VARIABLE_KEY_SCRIPTS: readonly string[] = ALL_SCRIPTS.filter((script) => script.numberOfKeys === undefined).map(
  (script) => script.name,
);

/** Defines every script on a client; createRedisClient does it, so only clients made otherwise (tests) call it. */
export function registerAllScripts(redis: RedisClient): void {
  registerScripts(redis, ALL_SCRIPTS);
}
