// A user's completion webhook and its deliveries in Postgres. The signing secret is generated here
// and answered once, by the PUT that set it; nothing else ever reads it out of the API.
import { randomBytes } from 'node:crypto';
import { type Database, webhookDeliveries, webhookDeliveryAttempts, webhooks } from '@books/core/db';
import type { Webhook, WebhookDelivery } from '@books/core/schemas';
import { and, asc, count, desc, eq, inArray, sql } from 'drizzle-orm';

/** A Standard Webhooks secret: `whsec_` and 24 random bytes in base64 (the spec asks 24 to 64). */
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

const publicWebhook = (row: { url: string; createdAt: Date; updatedAt: Date }): Webhook => ({
  url: row.url,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
});

/** Sets (or replaces) the user's webhook with a new secret; `created` is false for a replacement. */
export async function setWebhook(
  db: Database,
  userId: string,
  url: string,
): Promise<{ webhook: Webhook; secret: string; created: boolean }> {
  const secret = newWebhookSecret();
  const [row] = await db
    .insert(webhooks)
    .values({ userId, url, secret })
    .onConflictDoUpdate({ target: webhooks.userId, set: { url, secret, updatedAt: sql`now()` } })
    // xmax is 0 only for a row this statement inserted: the one way to tell an upsert's two outcomes apart.
    .returning({ url: webhooks.url, createdAt: webhooks.createdAt, updatedAt: webhooks.updatedAt, created: sql<boolean>`(xmax = 0)` });
  if (!row) throw new Error('webhook upsert returned no row');
  return { webhook: publicWebhook(row), secret, created: row.created };
}

export async function getWebhook(db: Database, userId: string): Promise<Webhook | null> {
  const [row] = await db
    .select({ url: webhooks.url, createdAt: webhooks.createdAt, updatedAt: webhooks.updatedAt })
    .from(webhooks)
    .where(eq(webhooks.userId, userId));
  return row ? publicWebhook(row) : null;
}

/** Removes the webhook; its pending deliveries are failed with it (none will be sent). False if there was none. */
export async function deleteWebhook(db: Database, userId: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const removed = await tx.delete(webhooks).where(eq(webhooks.userId, userId)).returning({ userId: webhooks.userId });
    if (!removed.length) return false;
    await tx
      .update(webhookDeliveries)
      .set({ state: 'failed', lastError: 'the webhook was removed', nextAttemptAt: sql`now()` })
      .where(and(eq(webhookDeliveries.userId, userId), eq(webhookDeliveries.state, 'pending')));
    return true;
  });
}

/** The user's deliveries, newest first, each with its attempts. */
export async function listWebhookDeliveries(
  db: Database,
  userId: string,
  page: { limit: number; offset: number },
): Promise<{ deliveries: WebhookDelivery[]; total: number }> {
  const [rows, [counted]] = await Promise.all([
    db
      .select()
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.userId, userId))
      .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(webhookDeliveries).where(eq(webhookDeliveries.userId, userId)),
  ]);
  const attempts = rows.length
    ? await db
        .select()
        .from(webhookDeliveryAttempts)
        .where(
          inArray(
            webhookDeliveryAttempts.deliveryId,
            rows.map((row) => row.id),
          ),
        )
        .orderBy(asc(webhookDeliveryAttempts.deliveryId), asc(webhookDeliveryAttempts.attempt))
    : [];
  const byDelivery = new Map<string, typeof attempts>();
  for (const attempt of attempts) byDelivery.set(attempt.deliveryId, [...(byDelivery.get(attempt.deliveryId) ?? []), attempt]);
  return {
    total: counted?.n ?? 0,
    deliveries: rows.map((row) => ({
      id: row.id,
      eventType: row.eventType as WebhookDelivery['eventType'],
      requestId: row.requestId,
      state: row.state,
      createdAt: row.createdAt.toISOString(),
      nextAttemptAt: row.state === 'pending' ? row.nextAttemptAt.toISOString() : null,
      deliveredAt: row.deliveredAt?.toISOString() ?? null,
      giveUpAt: row.giveUpAt.toISOString(),
      attempts: (byDelivery.get(row.id) ?? []).map((attempt) => ({
        attempt: attempt.attempt,
        at: attempt.at.toISOString(),
        status: attempt.status,
        durationMs: attempt.durationMs,
        error: attempt.error,
      })),
    })),
  };
}
