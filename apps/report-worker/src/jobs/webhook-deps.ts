import type { RedisClient, RedisKeys } from '@books/core/redis';
import type { HostResolver } from '@books/core/webhooks';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import type { Counter } from 'prom-client';

/** What the webhook jobs need: built by wiring.ts from the config, by tests with settings of their own. */
export interface WebhookDeps {
  sql: Sql;
  redis: RedisClient;
  keys: RedisKeys;
  log: Logger;
  now: () => Date;
  /** DNS for the delivery-time check; injectable so a test can rebind a name. */
  resolveHost: HostResolver;
  /** books_webhook_attempts_total, counted per recorded attempt. */
  attempts: Counter<'outcome'>;
  settings: {
    /** WEBHOOK_ALLOW_PRIVATE: http and non-public addresses allowed. */
    allowPrivate: boolean;
    /** WEBHOOK_TIMEOUT_SECONDS: one attempt, from resolving the host to the receiver's status. */
    timeoutMs: number;
    /** WEBHOOK_RETRY_WINDOW: from the event on, how long a failing delivery is retried. */
    retryWindowMs: number;
    /** The first retry's delay; doubling, capped at 30x (bulk/retry-delay.ts). */
    retryBaseMs: number;
    /** PUBLIC_BASE_URL, for the links in bodies. */
    publicBaseUrl: string;
    /** Deliveries sent at once by one replica. */
    concurrency: number;
  };
}
