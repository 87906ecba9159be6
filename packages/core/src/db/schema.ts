// Drizzle tables: the system of record. Row types come from $inferSelect.
import { sql } from 'drizzle-orm';
import { bigserial, check, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

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
