// The auth events every API replica must hear at once (sessions ended, an account changed or
// deleted). An event is inserted and announced with pg_notify in the transaction that makes the
// change, so the announcement goes out exactly when the change commits, and never for a change
// that rolled back. The announcement carries the event itself, so a replica applies it the moment
// it arrives, without a read that a request could overtake.
import { type AuthEventRow, authEvents, type Database, type Executor } from '@books/core/db';
import { and, asc, gt, inArray, sql } from 'drizzle-orm';

export const AUTH_EVENTS_CHANNEL = 'books_auth_events';

export type AuthEventKind = AuthEventRow['kind'];

export interface AuthEvent {
  seq: number;
  userId: string;
  kind: AuthEventKind;
  sessionIds: string[] | null;
  at: Date;
}

// Clocks of the replicas and of Postgres disagree a little: events are kept that much longer.
export const CLOCK_SLACK_MS = 60_000;
// NOTIFY payloads are limited to 8000 bytes; an event too big to carry (a logout-all of hundreds
// of sessions) is announced by its seq alone and read by the replicas.
const MAX_PAYLOAD_CHARS = 7900;
// Pruning is bounded per insert so that one write never pays for a backlog.
const PRUNE_BATCH = 100;

/**
 * Inserts the event, announces it to every replica at commit, and prunes events older than any
 * access token can be (`tokenLifetimeMs`): after that no token can name their sessions or users.
 */
export async function recordAuthEvent(
  tx: Executor,
  event: { userId: string; kind: AuthEventKind; sessionIds?: string[] },
  tokenLifetimeMs: number,
): Promise<AuthEvent> {
  const [row] = await tx
    .insert(authEvents)
    .values({ userId: event.userId, kind: event.kind, sessionIds: event.sessionIds ?? null })
    .returning();
  if (!row) throw new Error('auth event insert returned no row');
  const full = JSON.stringify({ seq: row.seq, userId: row.userId, kind: row.kind, sessionIds: row.sessionIds, at: row.at });
  const payload = full.length <= MAX_PAYLOAD_CHARS ? full : JSON.stringify({ seq: row.seq, userId: row.userId, partial: true });
  await tx.execute(sql`select pg_notify(${AUTH_EVENTS_CHANNEL}, ${payload})`);
  const retainSeconds = (tokenLifetimeMs + CLOCK_SLACK_MS) / 1000;
  await tx.execute(sql`
    delete from ${authEvents} where ${authEvents.seq} in (
      select ${authEvents.seq} from ${authEvents}
      where ${authEvents.at} < now() - make_interval(secs => ${retainSeconds})
      order by ${authEvents.seq} limit ${PRUNE_BATCH})`);
  return row;
}

/** The events recorded in the last `withinMs`, oldest first, read in pages of bounded size. */
export async function readRecentAuthEvents(db: Database, withinMs: number): Promise<AuthEvent[]> {
  const events: AuthEvent[] = [];
  const since = new Date(Date.now() - withinMs - CLOCK_SLACK_MS);
  let after = 0;
  for (;;) {
    const page = await db
      .select()
      .from(authEvents)
      .where(and(gt(authEvents.seq, after), gt(authEvents.at, since)))
      .orderBy(asc(authEvents.seq))
      .limit(5000);
    events.push(...page);
    const last = page.at(-1);
    if (!last || page.length < 5000) return events;
    after = last.seq;
  }
}

export async function readAuthEventsBySeq(db: Database, seqs: number[]): Promise<AuthEvent[]> {
  if (seqs.length === 0) return [];
  return db.select().from(authEvents).where(inArray(authEvents.seq, seqs)).orderBy(asc(authEvents.seq));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KINDS: readonly string[] = ['sessions_revoked', 'user_changed', 'user_deleted'];

/** A notification: the whole event, or only its seq and user when the event was too big to carry. */
export type AuthNotification = { event: AuthEvent } | { seq: number; userId: string };

/** Parses a payload written by recordAuthEvent (possibly by another version): null if it is not one. */
export function parseAuthNotification(payload: string): AuthNotification | null {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  const { seq, userId, kind, sessionIds, at, partial } = value ?? {};
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || typeof userId !== 'string' || !UUID.test(userId)) return null;
  if (partial === true) return { seq, userId };
  if (typeof kind !== 'string' || !KINDS.includes(kind) || typeof at !== 'string' || Number.isNaN(Date.parse(at))) return null;
  if (sessionIds !== null && !(Array.isArray(sessionIds) && sessionIds.every((id) => typeof id === 'string' && UUID.test(id)))) {
    return null;
  }
  return { event: { seq, userId, kind: kind as AuthEventKind, sessionIds: sessionIds as string[] | null, at: new Date(at) } };
}
