// Renews a lease (a user's report, or one account email) while its holder works. Neither has natural
// steps to renew at: one render may take REPORT_RENDER_TIMEOUT_SECONDS and one send waits up to
// SMTP_SOCKET_TIMEOUT_SECONDS for the server's answer, both far longer than a lease that should free
// a crashed worker's work soon.
import type { Lease } from '@books/core/redis';
import type { Logger } from 'pino';

export interface LeaseKeeper {
  /** False once a renewal found the lease taken or expired: another worker may have the report. */
  held(): boolean;
  stop(): void;
}

export function keepLease(lease: Lease, leaseMs: number, log: Logger): LeaseKeeper {
  let held = true;
  let renewing = false;
  // Every third of its length: two renewals may fail (Redis slow or restarting) before it expires.
  const timer = setInterval(
    () => {
      if (!held || renewing) return;
      renewing = true;
      lease
        .extend()
        .then((ok) => {
          if (!ok) {
            held = false;
            log.warn({ lease: lease.key }, 'the lease expired before it could be renewed');
          }
        })
        .catch((err) => log.warn({ err, lease: lease.key }, 'could not renew the lease; trying again'))
        .finally(() => {
          renewing = false;
        });
    },
    Math.max(1, Math.floor(leaseMs / 3)),
  );
  return {
    held: () => held,
    stop: () => clearInterval(timer),
  };
}
