// One pass of the bulk worker: every user with queued work, a few at a time. One user's failure
// never stops the others.
import { parseRequestMember } from '@books/core/redis';
import { mapWithConcurrency } from '@books/core/worker';
import { type BulkDeps, drainUser, type UserOutcome } from './drain-user.js';

export interface PassSummary {
  users: number;
  skippedUsers: number;
  erroredUsers: number;
  requests: number;
  inserted: number;
  failed: number;
  durationMs: number;
}

export async function runBulkPass(deps: BulkDeps, signal: AbortSignal = new AbortController().signal): Promise<PassSummary> {
  const started = performance.now();
  // The global index of pending requests, oldest first: no KEYS, no SCAN of the keyspace.
  const members = await deps.redis.zrange(deps.keys.bulkPending(), 0, -1);
  const users = [...new Set(members.map((member) => parseRequestMember(member)?.userId).filter((id): id is string => Boolean(id)))];
  const outcomes = await mapWithConcurrency(users, deps.settings.concurrency, async (userId): Promise<UserOutcome | null> => {
    if (signal.aborted) return null;
    try {
      return await drainUser(deps, userId, signal);
    } catch (err) {
      deps.log.error({ err, userId }, 'could not process this user; the others go on');
      return null;
    }
  });
  const summary: PassSummary = {
    users: users.length,
    skippedUsers: 0,
    erroredUsers: 0,
    requests: 0,
    inserted: 0,
    failed: 0,
    durationMs: 0,
  };
  for (const outcome of outcomes) {
    if (!outcome) summary.erroredUsers++;
    else if (outcome.skipped) summary.skippedUsers++;
    else {
      summary.requests += outcome.requests;
      summary.inserted += outcome.inserted;
      summary.failed += outcome.failed;
    }
  }
  summary.durationMs = Math.round(performance.now() - started);
  deps.log.info(summary, 'bulk pass done');
  return summary;
}
