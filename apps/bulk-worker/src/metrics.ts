// The bulk worker's Prometheus metrics. Counters move where the work is recorded (a chunk counts
// once its progress is in Redis), so a resumed or replayed chunk is not counted twice. The queue
// gauges are read from the global pending index when scraped: every replica reports the same
// values (alert on max()).

import { WORK_BUCKETS_SECONDS } from '@books/core/metrics';
import {
  countSharded,
  lowestScoreSharded,
  membersSharded,
  parseRequestMember,
  pipelinePerSlot,
  type RedisClient,
  type RedisKeys,
} from '@books/core/redis';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type RequestOutcome = 'completed' | 'failed' | 'cancelled';

export interface BulkMetrics {
  passDuration: Histogram;
  booksInserted: Counter;
  booksFailed: Counter;
  requestsFinished: Counter<'outcome'>;
  leaseLosses: Counter;
  retries: Counter;
}

export function createBulkMetrics(registry: Registry, source: { redis: RedisClient; keys: RedisKeys }): BulkMetrics {
  const registers = [registry];
  const { redis, keys } = source;
  new Gauge({
    name: 'books_bulk_pending_requests',
    help: 'Bulk requests queued or being processed, all users',
    registers,
    async collect() {
      this.set(await countSharded(redis, keys.bulkPendingShards()));
    },
  });
  new Gauge({
    name: 'books_bulk_pending_books',
    help: 'Books of pending bulk requests not yet inserted or failed, all users',
    registers,
    async collect() {
      this.set(await pendingBooks(redis, keys));
    },
  });
  new Gauge({
    name: 'books_bulk_oldest_pending_age_seconds',
    help: 'Age of the oldest pending bulk request (0 when none)',
    registers,
    async collect() {
      const oldest = await lowestScoreSharded(redis, keys.bulkPendingShards());
      this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
    },
  });
  return {
    passDuration: new Histogram({
      name: 'books_bulk_pass_duration_seconds',
      help: 'Duration of bulk worker passes',
      buckets: WORK_BUCKETS_SECONDS,
      registers,
    }),
    booksInserted: new Counter({ name: 'books_bulk_books_inserted_total', help: 'Books inserted by bulk imports', registers }),
    booksFailed: new Counter({
      name: 'books_bulk_books_failed_total',
      help: 'Items of bulk imports that failed alone (duplicate, refused by Postgres, unreadable)',
      registers,
    }),
    requestsFinished: new Counter({
      name: 'books_bulk_requests_finished_total',
      help: 'Bulk requests this worker brought to an end, by outcome (completed: processed, awaiting its report)',
      labelNames: ['outcome'],
      registers,
    }),
    leaseLosses: new Counter({
      name: 'books_bulk_lease_losses_total',
      help: "Times this worker lost a user's queue lease mid-work (another worker resumes)",
      registers,
    }),
    retries: new Counter({
      name: 'books_bulk_retries_total',
      help: 'Failed attempts of bulk requests that were queued again for a retry with backoff',
      registers,
    }),
  };
}

/** Σ (queued − nextItem) over the pending requests: no KEYS, their records read pipelined. */
async function pendingBooks(redis: RedisClient, keys: RedisKeys): Promise<number> {
  const members = await membersSharded(redis, keys.bulkPendingShards());
  const records = members.flatMap(({ member }) => {
    const parsed = parseRequestMember(member);
    return parsed ? [keys.bulkRequest(parsed.userId, parsed.requestId)] : [];
  });
  const replies = await pipelinePerSlot(redis, records, (pipeline, key) => pipeline.hmget(key, 'queued', 'nextItem'));
  let books = 0;
  for (const fields of replies) {
    const [queued, nextItem] = fields as (string | null)[];
    books += Math.max(0, Number(queued ?? 0) - Number(nextItem ?? 0));
  }
  return books;
}
