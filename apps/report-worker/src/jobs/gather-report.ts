// Collects what one report shows: the user (Postgres) and each listed request with its failures (Redis).
import { type Database, type RedisKeys, readBulkRequest, readFailedItems, users } from '@books/core';
import { eq } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { ReportData, ReportRequest } from '../report-data.js';

export interface ReportContext {
  reportId: string;
  generatedAt: Date;
  timeZone: string;
  systemName: string;
  company: { name: string; address: string };
}

export type Gathered = { ok: true; data: ReportData } | { ok: false; reason: string };

export async function gatherReport(
  db: Database,
  redis: Redis,
  keys: RedisKeys,
  userId: string,
  requestIds: string[],
  context: ReportContext,
): Promise<Gathered> {
  const [user] = await db
    .select({ id: users.id, username: users.username, email: users.email })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  if (!user) return { ok: false, reason: 'the account no longer exists' };
  const requests: ReportRequest[] = [];
  for (const requestId of requestIds) {
    const record = await readBulkRequest(redis, keys, userId, requestId);
    if (!record) continue;
    requests.push({
      requestId,
      submitted: record.submitted,
      inserted: record.inserted,
      failed: record.failed,
      queuedAt: record.queuedAt,
      processingStartedAt: record.processingStartedAt,
      processedAt: record.processedAt,
      durationMs: record.durationMs,
      failedItems: await readFailedItems(redis, keys, userId, requestId),
    });
  }
  if (requests.length === 0) return { ok: false, reason: 'none of the listed requests is on record any more' };
  requests.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt));
  const submitted = requests.reduce((n, r) => n + r.submitted, 0);
  const inserted = requests.reduce((n, r) => n + r.inserted, 0);
  const failed = requests.reduce((n, r) => n + r.failed, 0);
  return {
    ok: true,
    data: {
      reportId: context.reportId,
      generatedAt: context.generatedAt.toISOString(),
      timeZone: context.timeZone,
      systemName: context.systemName,
      company: context.company,
      user,
      requests,
      totals: { submitted, inserted, failed, successRate: submitted === 0 ? 0 : Math.round((inserted / submitted) * 1000) / 10 },
    },
  };
}
