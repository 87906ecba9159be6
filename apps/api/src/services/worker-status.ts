// /admin/stats's view of the workers: the live replicas of each kind (from their heartbeats) and
// whether the kind looks stuck. A kind's schedule is the one the API is configured with too
// (BULK_CRON / REPORT_CRON): the same variables, read by every process.
import { nextRun } from '@books/core/schedule';
import type { WorkerHeartbeat, WorkerKind, WorkerKindStatus } from '@books/core/schemas';

/** How far apart two passes of `cron` are, measured at `at` (irregular patterns: the next gap). */
export function passIntervalMs(cron: string, at: Date): number {
  const next = nextRun(cron, at);
  return nextRun(cron, next).getTime() - next.getTime();
}

export function workerKindStatus(replicas: WorkerHeartbeat[], kind: WorkerKind, cron: string, at: Date): WorkerKindStatus {
  const own = replicas.filter((replica) => replica.kind === kind).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  if (own.length === 0) return { alive: 0, lastPassAt: null, problem: 'none alive', replicas: [] };
  // A pass running now counts as now: a long drain is work, not a stall (its heartbeat keeps
  // beating). A replica that has not passed yet is judged from its start.
  const lastSign = Math.max(
    ...own.map((replica) => (replica.passRunning ? at.getTime() : Date.parse(replica.lastPassEndedAt ?? replica.startedAt))),
  );
  const ended = own.flatMap((replica) => (replica.lastPassEndedAt ? [replica.lastPassEndedAt] : []));
  const running = own.some((replica) => replica.passRunning);
  const lastPassAt = running ? at.toISOString() : ended.length ? ended.sort().at(-1)! : null;
  const stale = at.getTime() - lastSign > 2 * passIntervalMs(cron, at);
  return { alive: own.length, lastPassAt, problem: stale ? 'last pass older than two intervals' : null, replicas: own };
}
