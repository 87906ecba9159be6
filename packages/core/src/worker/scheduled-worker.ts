// What both workers' main.ts share: a croner schedule (UTC, no overlapping passes, errors
// caught), `--once`, and a bounded shutdown that lets the current pass hand its work back.
import { Cron } from 'croner';
import type { Logger } from 'pino';
import { onShutdown } from '../runtime/shutdown.js';
import { flushTracing } from '../telemetry/index.js';
import type { WorkerOps } from './worker-ops.js';

/** One pass on its own schedule. */
export interface Schedule {
  name: string;
  cron: string;
  /** One pass; it should stop taking new work when the signal aborts. */
  pass(signal: AbortSignal): Promise<unknown>;
}

export interface ScheduledWorker extends Schedule {
  log: Logger;
  /** Further passes of the same process on schedules of their own, stopped by the same shutdown. */
  alsoRuns?: Schedule[];
  /** Closes the worker's clients. */
  close(): Promise<void>;
  /** SHUTDOWN_GRACE_SECONDS: how long a stop may take before the process exits anyway. */
  shutdownGraceMs: number;
  /** The heartbeat and probes (runScheduled only): told of the main schedule's passes. */
  ops?: WorkerOps;
}

/** `--once`: one pass of each schedule, in turn, then close. Resolves to the process exit code. */
export async function runOnce(worker: ScheduledWorker): Promise<number> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    for (const schedule of [worker, ...(worker.alsoRuns ?? [])]) await schedule.pass(abort.signal);
    return 0;
  } catch (err) {
    worker.log.error({ err }, 'pass failed');
    return 1;
  } finally {
    await worker.close();
    await flushTracing();
  }
}

/** Runs passes on the schedule until SIGTERM/SIGINT, then exits the process. */
export function runScheduled(worker: ScheduledWorker): void {
  const { log, ops } = worker;
  const abort = new AbortController();
  const running = new Set<Promise<unknown>>();

  const jobs = [worker, ...(worker.alsoRuns ?? [])].map((schedule) => {
    // One warning per overrunning pass: a schedule of seconds would otherwise warn every tick.
    let warned = false;
    const job = new Cron(
      schedule.cron,
      {
        name: schedule.name,
        timezone: 'UTC',
        // Only guards this process; replicas coordinate through Redis leases.
        protect: () => {
          if (!warned) log.warn({ schedule: schedule.name }, 'the previous pass is still running; skipping ticks until it ends');
          warned = true;
        },
        catch: (err) => log.error({ err, schedule: schedule.name }, 'pass failed'),
      },
      async () => {
        const main = schedule === worker;
        if (main) ops?.passStarted();
        const current = schedule.pass(abort.signal);
        running.add(current);
        try {
          await current;
          if (main) ops?.passEnded('ok');
        } catch (err) {
          if (main) ops?.passEnded('failed');
          throw err;
        } finally {
          running.delete(current);
          warned = false;
        }
      },
    );
    log.info({ cron: schedule.cron, nextRun: job.nextRun()?.toISOString() }, `${schedule.name} scheduled`);
    return job;
  });
  ops?.scheduleStarted();

  onShutdown({
    log,
    graceMs: worker.shutdownGraceMs,
    stopping: 'no new passes; the current one hands back its work',
    ifTooLong: 'leases expire and another worker resumes',
    async close() {
      ops?.stopping();
      for (const job of jobs) job.stop();
      abort.abort();
      // A failed pass was already logged by croner's `catch`; what matters now is that it ended.
      await Promise.allSettled(running);
      // Before the clients close: the heartbeat is removed with them.
      await ops?.close();
      await worker.close();
    },
  });
}

/** Runs `fn` over `items` with at most `limit` at a time; results in input order. */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}
