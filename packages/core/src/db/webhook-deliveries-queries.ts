// The report worker's clean-up of webhook deliveries. They are kept for the user to read
// (GET /me/webhook/deliveries) as long as stored reports are (REPORT_RETENTION_DAYS), then deleted
// with their attempts, a batch per report pass, so the tables do not grow with every import
// forever. A pending delivery is never deleted: it gives up after WEBHOOK_RETRY_WINDOW, long before.
import { and, lt, ne, sql } from 'drizzle-orm';
import type { Database } from './client.js';
import { webhookDeliveries } from './schema.js';

export async function deleteExpiredWebhookDeliveries(db: Database, now: Date, retentionMs: number, limit: number): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionMs);
  const expired = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(lt(webhookDeliveries.createdAt, cutoff), ne(webhookDeliveries.state, 'pending')))
    .limit(limit);
  const deleted = await db
    .delete(webhookDeliveries)
    .where(sql`${webhookDeliveries.id} in (${expired})`)
    .returning({ id: webhookDeliveries.id });
  return deleted.length;
}
