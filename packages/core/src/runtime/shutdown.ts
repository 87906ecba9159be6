// Every process stops the same way: on SIGTERM or SIGINT it logs "stopping", runs its `close`
// within the grace period, logs "stopped" and exits 0; it exits 1 if `close` fails or the grace
// runs out ("shutdown took too long"). close-with-grace keeps the bounded grace and the exit codes.
import closeWithGrace from 'close-with-grace';
import type { BaseLogger } from 'pino';
import { flushTracing } from '../telemetry/index.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

// close-with-grace would also act on these. We keep today's process behaviour instead: other
// signals keep their default, a crash stays a crash, and a repeated stop signal is ignored (a
// Ctrl-C under scripts/start.mjs reaches each service twice: from the terminal and forwarded).
const LEFT_ALONE: closeWithGrace.AllEvents[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGSEGV',
  'SIGUSR2',
  'SIGTERM',
  'uncaughtException',
  'unhandledRejection',
  'beforeExit',
];

export interface ShutdownOptions {
  // BaseLogger: Fastify's logger is one too.
  log: Pick<BaseLogger, 'info' | 'error'>;
  graceMs: number;
  /** What stopping means for this process, for the "stopping" line. */
  stopping: string;
  /** What becomes of unfinished work if the grace runs out, for the "took too long" line. */
  ifTooLong: string;
  /** Finishes or hands back the work in progress and closes the clients. */
  close(): Promise<void>;
}

/** Installs the process's SIGTERM/SIGINT handling; the process exits when `close` is done. */
export function onShutdown({ log, graceMs, stopping, ifTooLong, close }: ShutdownOptions): void {
  const grace = closeWithGrace(
    {
      delay: graceMs,
      logger: false,
      skip: LEFT_ALONE,
      onTimeout: () => log.error({ graceMs }, `shutdown took too long; exiting anyway (${ifTooLong})`),
    },
    async () => {
      try {
        await close();
      } catch (err) {
        log.error({ err }, 'error while stopping');
        throw err;
      } finally {
        await flushTracing();
      }
      log.info('stopped');
    },
  );
  let signalled = false;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (signalled) return;
      signalled = true;
      log.info({ signal, graceMs }, `stopping: ${stopping}`);
      grace.close();
    });
  }
}
