// Hears the auth events on a connection of its own (LISTEN needs a session connection: behind
// pgbouncer, point DATABASE_LISTEN_URL past the transaction pool). It says whether what it heard
// can be trusted: only while LISTEN is established and the events recorded before it have been
// read. Each time the connection is lost (or stops answering) it stops trusting, listens again,
// reads the recent events again (applying one twice is harmless) and trusts again.
import type { Database } from '@books/core/db';
import type { FastifyBaseLogger } from 'fastify';
import postgres from 'postgres';
import { AUTH_EVENTS_CHANNEL, type AuthEvent, parseAuthNotification, readAuthEventsBySeq, readRecentAuthEvents } from './auth-events.js';

// A connection can die silently (a partition sends no reset): a ping that takes longer than this
// makes the replica stop trusting its state until the ping comes back.
const HEARTBEAT_MS = 2000;
const HEARTBEAT_TIMEOUT_MS = 2000;
const RETRY_MAX_MS = 2000;

export interface AuthEventSink {
  /** Events to apply (they may repeat ones already applied). */
  apply(events: AuthEvent[]): void;
  /** The user has an event this replica has not read yet: it must not be trusted until `settled`. */
  pending(userId: string): void;
  settled(userId: string): void;
  /** What was heard is (not) complete. */
  trust(trusted: boolean): void;
  /** Called on each heartbeat, e.g. to forget what has outlived every token. */
  sweep(): void;
}

export interface AuthEventListener {
  /** Resolves once listening and caught up, or after `waitMs` (it keeps trying in the background). */
  start(waitMs: number): Promise<void>;
  close(): Promise<void>;
}

export function createAuthEventListener(deps: {
  listenUrl: string;
  db: Database;
  log: FastifyBaseLogger;
  /** How far back events matter: the access-token lifetime. */
  tokenLifetimeMs: number;
  sink: AuthEventSink;
}): AuthEventListener {
  const { db, log, sink } = deps;
  let closed = false;
  // Bumped whenever the connection is lost: a catch-up that began before the loss does not count.
  let losses = 0;
  let trusted = false;
  let syncing: Promise<void> | null = null;
  let heartbeatStarted: number | null = null;

  const setTrusted = (value: boolean) => {
    if (trusted === value) return;
    trusted = value;
    sink.trust(value);
  };

  const lost = (why: string) => {
    losses++;
    if (trusted) log.warn({ why }, 'auth events: not listening; checking sessions in Postgres per request until caught up');
    setTrusted(false);
    if (!closed) void sync();
  };

  const readPartial = (seq: number, userId: string) => {
    sink.pending(userId);
    readAuthEventsBySeq(db, [seq]).then(
      (events) => {
        sink.apply(events);
        sink.settled(userId);
      },
      (err) => {
        // The user stays pending (slow path) until a full catch-up replaces what was missed.
        log.warn({ err, userId }, 'auth events: could not read an announced event');
        lost('announced event unreadable');
      },
    );
  };

  // An object rather than a literal: postgres.js supports `onnotify` (every notification of the
  // connection) but its types omit it. sql.listen() would hide when the connection drops.
  const options = {
    max: 1,
    idle_timeout: undefined, // never closed for idleness (the default)
    max_lifetime: null,
    connect_timeout: 5,
    fetch_types: false,
    onnotice: () => {},
    connection: { application_name: 'books-api-listen' },
    onnotify(channel: string, payload: string) {
      if (channel !== AUTH_EVENTS_CHANNEL) return;
      const note = parseAuthNotification(payload);
      if (!note) {
        log.warn('auth events: an unreadable notification; catching up from the table');
        lost('unreadable notification');
      } else if ('event' in note) sink.apply([note.event]);
      else readPartial(note.seq, note.userId);
    },
    onclose() {
      if (!closed) lost('listen connection closed');
    },
  };
  const listenSql = postgres(deps.listenUrl, options);

  async function catchUp(): Promise<void> {
    let delay = 100;
    while (!closed) {
      const at = losses;
      try {
        await listenSql`listen ${listenSql(AUTH_EVENTS_CHANNEL)}`;
        sink.apply(await readRecentAuthEvents(db, deps.tokenLifetimeMs));
        if (at === losses && !closed) {
          setTrusted(true);
          return;
        }
      } catch (err) {
        if (closed) return;
        log.warn({ err }, 'auth events: cannot listen yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  const sync = (): Promise<void> => {
    syncing ??= catchUp().finally(() => {
      syncing = null;
    });
    return syncing;
  };

  const heartbeat = setInterval(() => {
    sink.sweep();
    if (heartbeatStarted !== null) {
      if (Date.now() - heartbeatStarted > HEARTBEAT_TIMEOUT_MS && trusted) {
        losses++;
        setTrusted(false);
        log.warn('auth events: the listen connection does not answer; checking sessions in Postgres per request');
      }
      return;
    }
    heartbeatStarted = Date.now();
    listenSql`select 1`.then(
      () => {
        heartbeatStarted = null;
        if (!trusted && !closed) void sync();
      },
      () => {
        heartbeatStarted = null;
      },
    );
  }, HEARTBEAT_MS);
  heartbeat.unref();

  return {
    async start(waitMs) {
      const first = sync();
      await Promise.race([first, new Promise((resolve) => setTimeout(resolve, waitMs).unref())]);
    },
    async close() {
      closed = true;
      clearInterval(heartbeat);
      setTrusted(false);
      await listenSql.end({ timeout: 2 });
    },
  };
}
