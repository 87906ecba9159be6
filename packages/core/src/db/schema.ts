// Drizzle tables: the system of record. Row types come from $inferSelect.
import { sql } from 'drizzle-orm';
import { bigserial, check, customType, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    username: text('username').notNull(),
    email: text('email').notNull(),
    passwordHash: text('password_hash').notNull(),
    role: text('role', { enum: ['user', 'admin'] })
      .notNull()
      .default('user'),
    // Set when the address was proven by a verification link; cleared if the address changes.
    emailVerifiedAt: timestamp('email_verified_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('users_username_key').on(t.username),
    uniqueIndex('users_email_lower_key').on(sql`lower(${t.email})`),
    check('users_role_check', sql`${t.role} in ('user', 'admin')`),
  ],
);
export type UserRow = typeof users.$inferSelect;

export const books = pgTable(
  'books',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    author: text('author').notNull(),
    isbn: text('isbn'),
    publishedYear: integer('published_year'),
    genre: text('genre'),
    version: integer('version').notNull().default(1),
    // Set only by the bulk worker: (request, item) is unique, which makes a retried chunk insert nothing twice.
    bulkRequestId: uuid('bulk_request_id'),
    bulkItemIndex: integer('bulk_item_index'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // NULLs are distinct in a unique index, so books without an ISBN never collide.
    uniqueIndex('books_user_isbn_key').on(t.userId, t.isbn),
    uniqueIndex('books_bulk_item_key').on(t.bulkRequestId, t.bulkItemIndex),
    index('books_user_created_idx').on(t.userId, t.createdAt.desc(), t.id.desc()),
    index('books_title_trgm_idx').using('gin', sql`${t.title} gin_trgm_ops`),
    index('books_author_trgm_idx').using('gin', sql`${t.author} gin_trgm_ops`),
  ],
);
export type BookRow = typeof books.$inferSelect;

// Cache invalidations owed to Redis: a write whose invalidation failed (Redis unreachable from its
// replica) records one here, the only store every replica still shares, and any replica that can
// reach Redis pays it (see apps/api/src/services/books-cache-debts.ts). One row per user: a newer
// debt takes a fresh `seq`, so a payer deletes exactly the debt it paid and never a newer one.
export const booksCacheDebts = pgTable('books_cache_debts', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  seq: bigserial('seq', { mode: 'number' }).notNull(),
  owedAt: timestamp('owed_at', { withTimezone: true }).notNull().defaultNow(),
});
export type BooksCacheDebtRow = typeof booksCacheDebts.$inferSelect;

// A signed-in device: an access token names its session (claim `sid`), and a refresh token belongs
// to one. Ending a session (logout, reuse of a rotated refresh token, a password change) sets
// revokedAt and records an auth event, which every API replica hears (see auth_events).
export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    userAgent: text('user_agent'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }).notNull().defaultNow(),
    // Absolute: refreshing does not extend it (REFRESH_TOKEN_TTL).
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revokedReason: text('revoked_reason'),
  },
  (t) => [index('sessions_user_idx').on(t.userId, t.createdAt.desc())],
);
export type SessionRow = typeof sessions.$inferSelect;

// Every refresh token a session was given, stored as a SHA-256 of the opaque value (it is random
// and long, so a fast hash suffices). A rotated token stays, marked, so that presenting it again is
// recognised as reuse (RFC 9700 §4.14) rather than as an unknown token.
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    rotatedAt: timestamp('rotated_at', { withTimezone: true }),
  },
  (t) => [index('refresh_tokens_session_idx').on(t.sessionId)],
);
export type RefreshTokenRow = typeof refreshTokens.$inferSelect;

// What every API replica must learn at once: sessions ended, an account changed or deleted. Each
// row is announced with NOTIFY in the transaction that writes it; a replica that was not listening
// catches up by seq. No foreign key: a deleted account's event must outlive the account.
export const authEvents = pgTable(
  'auth_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    userId: uuid('user_id').notNull(),
    kind: text('kind', { enum: ['sessions_revoked', 'user_changed', 'user_deleted'] }).notNull(),
    // For sessions_revoked: the sessions ended.
    sessionIds: uuid('session_ids').array(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('auth_events_at_idx').on(t.at),
    check('auth_events_kind_check', sql`${t.kind} in ('sessions_revoked', 'user_changed', 'user_deleted')`),
  ],
);
export type AuthEventRow = typeof authEvents.$inferSelect;

// A single-use email verification link, stored as a SHA-256 of its token, for the address it was sent to.
export const emailVerifications = pgTable(
  'email_verifications',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
  },
  (t) => [index('email_verifications_user_idx').on(t.userId)],
);
export type EmailVerificationRow = typeof emailVerifications.$inferSelect;

// The one live password-reset code of an account (a new request replaces it), stored hashed, with
// the wrong tries counted: it is void after the limit, when used, or when expired.
export const passwordResets = pgTable(
  'password_resets',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    usedAt: timestamp('used_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.userId] })],
);
export type PasswordResetRow = typeof passwordResets.$inferSelect;

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

// Every report email the report worker sent or tried to send, with the PDF itself, so that a user
// can list, download and have it resent (GET /reports…). The id is the report id of the email
// (derived from the user and the requests it covers, see report-id.ts). Kept until expires_at
// (REPORT_RETENTION_DAYS), then deleted by the report worker.
export const reports = pgTable(
  'reports',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    requestIds: uuid('request_ids').array().notNull(),
    // The Message-ID of the first send; a resend has its own (last_resend_message_id).
    messageId: text('message_id').notNull(),
    recipient: text('recipient').notNull(),
    subject: text('subject').notNull(),
    filename: text('filename').notNull(),
    pdf: bytea('pdf').notNull(),
    pdfBytes: integer('pdf_bytes').notNull(),
    deliveryState: text('delivery_state', { enum: ['sending', 'sent', 'failed'] })
      .notNull()
      .default('sending'),
    deliveryError: text('delivery_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    resendCount: integer('resend_count').notNull().default(0),
    lastResendMessageId: text('last_resend_message_id'),
    lastResentAt: timestamp('last_resent_at', { withTimezone: true }),
    // The latest resend asked for (POST /reports/:id/resend), taken in from the Redis queue by the
    // report worker. A resend request is taken in only if it is newer than the one recorded, so a
    // second copy of it never makes it pending again: one request, one email at most.
    resendRequestId: uuid('resend_request_id'),
    resendRequestedAt: timestamp('resend_requested_at', { withTimezone: true }),
    // Null: never asked for.
    resendState: text('resend_state', { enum: ['pending', 'sent', 'failed'] }),
    resendError: text('resend_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    index('reports_user_created_idx').on(t.userId, t.createdAt.desc(), t.id.desc()),
    index('reports_request_ids_idx').using('gin', t.requestIds),
    index('reports_expires_idx').on(t.expiresAt),
    index('reports_resend_pending_idx').on(t.resendRequestedAt).where(sql`${t.resendState} = 'pending'`),
    check('reports_delivery_state_check', sql`${t.deliveryState} in ('sending', 'sent', 'failed')`),
    check('reports_resend_state_check', sql`${t.resendState} in ('pending', 'sent', 'failed')`),
  ],
);
export type ReportRow = typeof reports.$inferSelect;

// A user's completion webhook: one URL per account, with its Standard Webhooks signing secret
// (`whsec_…`), which the API shows once, when it is set.
export const webhooks = pgTable('webhooks', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  url: text('url').notNull(),
  secret: text('secret').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
export type WebhookRow = typeof webhooks.$inferSelect;

// One event to deliver to a user's webhook. The id is the `webhook-id` header, the same on every
// retry, derived from the event (so a replayed event is one row). Retried with backoff until
// delivered or `give_up_at` (24 h after it was created).
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    eventType: text('event_type').notNull(),
    requestId: uuid('request_id'),
    payload: text('payload').notNull(),
    url: text('url').notNull(),
    state: text('state', { enum: ['pending', 'delivered', 'failed'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true }),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    giveUpAt: timestamp('give_up_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.state} = 'pending'`),
    index('webhook_deliveries_user_created_idx').on(t.userId, t.createdAt.desc()),
    check('webhook_deliveries_state_check', sql`${t.state} in ('pending', 'delivered', 'failed')`),
  ],
);
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

// Each try of a delivery: when, the receiver's status (null: no answer), how long, why it failed.
export const webhookDeliveryAttempts = pgTable(
  'webhook_delivery_attempts',
  {
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    status: integer('status'),
    durationMs: integer('duration_ms').notNull(),
    error: text('error'),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);
export type WebhookDeliveryAttemptRow = typeof webhookDeliveryAttempts.$inferSelect;
