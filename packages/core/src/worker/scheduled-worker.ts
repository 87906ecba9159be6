// What both workers' main.ts share: a croner schedule (UTC, no overlapping passes, errors
// caught), `--once`, and a bounded shutdown that lets the current pass hand its work back.
import { Cron } from 'croner';
import type { Logger } from 'pino';
import { onShutdown } from '../runtime/shutdown.js';

export interface ScheduledWorker {
  name: string;
  cron: string;
  log: Logger;
  /** One pass; it should stop taking new work when the signal aborts. */
  pass(signal: AbortSignal): Promise<unknown>;
  /** Closes the worker's clients. */
  close(): Promise<void>;
  /** SHUTDOWN_GRACE_SECONDS: how long a stop may take before the process exits anyway. */
  shutdownGraceMs: number;
}

/** `--once`: one pass, then close. Resolves to the process exit code. */
export async function runOnce(worker: ScheduledWorker): Promise<number> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await worker.pass(abort.signal);
    return 0;
  } catch (err) {
    worker.log.error({ err }, 'pass failed');
    return 1;
  } finally {
    await worker.close();
  }
}

/** Runs passes on the schedule until SIGTERM/SIGINT, then exits the process. */
export function runScheduled(worker: ScheduledWorker): void {
  const { log } = worker;
  const abort = new AbortController();
  let current: Promise<unknown> | undefined;

  const job = new Cron(
    worker.cron,
    {
      name: worker.name,
      timezone: 'UTC',
      // Only guards this process; replicas coordinate through Redis leases.
      protect: () => log.warn('the previous pass is still running; skipping this tick'),
      catch: (err) => log.error({ err }, 'pass failed'),
    },
    async () => {
      current = worker.pass(abort.signal);
      try {
        await current;
      } finally {
        current = undefined;
      }
    },
  );
  log.info({ cron: worker.cron, nextRun: job.nextRun()?.toISOString() }, `${worker.name} scheduled`);

  onShutdown({
    log,
    graceMs: worker.shutdownGraceMs,
    stopping: 'no new passes; the current one hands back its work',
    ifTooLong: 'leases expire and another worker resumes',
    async close() {
      job.stop();
      abort.abort();
      // A failed pass was already logged by croner's `catch`; what matters now is that it ended.
      await Promise.resolve(current).catch(() => {});
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
