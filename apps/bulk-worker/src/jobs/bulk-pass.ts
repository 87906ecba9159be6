// One pass of the bulk worker: every user with queued work, a few at a time, in turns of a bounded
// number of chunks. One user's failure never stops the others.
import { membersSharded, parseRequestMember } from '@books/core/redis';
import { mapWithConcurrency } from '@books/core/worker';
import { type BulkDeps, drainUser, type UserOutcome } from './drain-user.js';

export interface PassSummary {
  users: number;
  skippedUsers: number;
  erroredUsers: number;
  requests: number;
  inserted: number;
  failed: number;
  /** Rounds of turns the pass took (1 unless some user's backlog outlasted a turn). */
  rounds: number;
  durationMs: number;
}

export async function runBulkPass(deps: BulkDeps, signal: AbortSignal = new AbortController().signal): Promise<PassSummary> {
  const started = performance.now();
  const outcomes: (UserOutcome | null)[] = [];
  const seen = new Set<string>();
  // Fair share: a pass goes in rounds, each user getting one turn (BULK_TURN_CHUNKS chunks) per round.
  // A user whose turn ended with work left gets another in the next round, after the users who
  // queued work meanwhile: a small import arriving while a huge one drains waits for one round, not
  // for the huge one. The pass ends when no turn left work behind.
  let round = await pendingUsers(deps);
  let rounds = 0;
  while (round.length > 0 && !signal.aborted) {
    rounds++;
    for (const userId of round) seen.add(userId);
    const results = await mapWithConcurrency(round, deps.settings.concurrency, async (userId): Promise<UserOutcome | null> => {
      if (signal.aborted) return null;
      try {
        return await drainUser(deps, userId, signal);
      } catch (err) {
        deps.log.error({ err, userId }, 'could not process this user; the others go on');
        return null;
      }
    });
    outcomes.push(...results);
    const unfinished = results.flatMap((outcome) => (outcome?.more ? [outcome.userId] : []));
    if (unfinished.length === 0) break;
    const arrived = (await pendingUsers(deps)).filter((userId) => !seen.has(userId));
    round = [...arrived, ...unfinished];
  }
  const summary: PassSummary = {
    users: seen.size,
    skippedUsers: 0,
    erroredUsers: 0,
    requests: 0,
    inserted: 0,
    failed: 0,
    rounds,
    durationMs: 0,
  };
  for (const outcome of outcomes) {
    if (outcome === null) summary.erroredUsers++;
    else if (outcome.skipped) summary.skippedUsers++;
    else {
      summary.requests += outcome.requests;
      summary.inserted += outcome.inserted;
      summary.failed += outcome.failed;
    }
  }
  summary.durationMs = Math.round(performance.now() - started);
  deps.metrics.passDuration.observe(summary.durationMs / 1000);
  deps.log.info(summary, 'bulk pass done');
  return summary;
}

/** The users with queued work, oldest request first, from the global index of pending requests: no KEYS, no SCAN. */
async function pendingUsers(deps: BulkDeps): Promise<string[]> {
  const members = await membersSharded(deps.redis, deps.keys.bulkPendingShards());
  return [...new Set(members.map(({ member }) => parseRequestMember(member)?.userId).filter((id): id is string => Boolean(id)))];
}
