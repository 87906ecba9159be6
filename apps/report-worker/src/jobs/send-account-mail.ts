// One account email: under a lease on it (renewed while the server is awaited), send it with a
// Message-ID derived from its id, and delete it as soon as the SMTP server has accepted it, so that
// no replica sends it again. A failure is retried with the report rules (REPORT_MAX_ATTEMPTS,
// backoff from REPORT_RETRY_BASE_SECONDS); a 5xx or the last attempt gives it up. The message
// holds a link or a code, so its content is never logged: only its id and kind.

import type { AccountMailOutbox } from '@books/core/account-mail';
import { retryDelayMs } from '@books/core/bulk';
import { acquireLease, type RedisClient, type RedisKeys } from '@books/core/redis';
import type { Logger } from 'pino';
import { accountMailMessageId, composeAccountEmail } from '../mail/account-email.js';
import { describeDeliveryError } from '../mail/delivery-error.js';
import { isPermanentSmtpFailure } from '../mail/transport.js';
import { keepLease } from './lease-keeper.js';
import type { MailSender } from './report-user.js';

export interface AccountMailSettings {
  maxAttempts: number;
  retryBaseMs: number;
  leaseMs: number;
  concurrency: number;
  timeZone: string;
  companyName: string;
  from: { name: string; address: string };
}

export interface AccountMailDeps {
  redis: RedisClient;
  keys: RedisKeys;
  outbox: AccountMailOutbox;
  mailer: MailSender;
  log: Logger;
  now: () => Date;
  settings: AccountMailSettings;
}

export type AccountMailOutcome = 'sent' | 'retry_later' | 'dropped' | 'waiting' | 'skipped' | 'nothing';

export async function sendAccountMail(deps: AccountMailDeps, id: string): Promise<AccountMailOutcome> {
  const { redis, keys, outbox, log, settings } = deps;
  const lease = await acquireLease(redis, keys.accountMailLease(id), settings.leaseMs);
  if (!lease) return 'skipped';
  const keeper = keepLease(lease, settings.leaseMs, log);
  try {
    const held = await outbox.read(id);
    if (!held) return 'nothing';
    // Another replica may have failed it and scheduled its retry since it was listed.
    if (held.dueAt > deps.now().getTime()) return 'waiting';
    const { mail } = held;
    if (!mail) {
      await outbox.finish(id, deps.now());
      log.error({ mailId: id }, 'an account mail entry is not a valid message; dropped');
      return 'dropped';
    }
    const context = { mailId: id, kind: mail.kind };
    if (Date.parse(mail.expiresAt) <= deps.now().getTime()) {
      await outbox.finish(id, deps.now());
      log.warn({ ...context, attempts: held.attempts }, 'account mail expired before it could be sent; dropped');
      return 'dropped';
    }
    const email = composeAccountEmail(mail, { companyName: settings.companyName, timeZone: settings.timeZone });
    const messageId = accountMailMessageId(mail.id, settings.from.address);
    // Past this point the email may go out: not once another replica may be sending it too.
    if (!keeper.held()) return 'skipped';
    try {
      await deps.mailer.sendMail({ from: settings.from, to: mail.to, messageId, ...email });
    } catch (err) {
      const permanent = isPermanentSmtpFailure(err);
      const { code } = describeDeliveryError(err);
      const now = deps.now();
      const attempt = held.attempts + 1;
      const result = await outbox.recordFailure(id, lease.token, {
        attempt,
        maxAttempts: settings.maxAttempts,
        permanent,
        now,
        nextAttemptAt: new Date(now.getTime() + retryDelayMs(attempt, settings.retryBaseMs)),
      });
      if (!result) {
        log.warn({ ...context, err, code }, 'account mail attempt failed after its lease was lost; another replica has it');
        return 'skipped';
      }
      const failure = { ...context, err, code, attempts: result.attempts, permanent };
      if (result.dropped) log.error(failure, 'account mail could not be delivered; given up');
      else log.warn(failure, 'account mail attempt failed; retried with backoff');
      return result.dropped ? 'dropped' : 'retry_later';
    }
    // The server has it: delete it whoever holds the lease now (finish needs none).
    await outbox.finish(id, deps.now());
    log.info({ ...context, messageId, attempts: held.attempts + 1 }, 'account mail sent');
    return 'sent';
  } finally {
    keeper.stop();
    await lease.release().catch((err) => log.warn({ err, mailId: id }, 'could not release the account mail lease; it expires by itself'));
  }
}
