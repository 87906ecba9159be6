// Postgres access for one user's books. Every query is scoped by owner: another user's book
// simply does not exist here.
import { books, type Database } from '@books/core/db';
import type { Book, BookInput, BookPage, BookUpdate } from '@books/core/schemas';
import { and, count, desc, eq, ilike, inArray, or, sql } from 'drizzle-orm';

export function toBook(row: typeof books.$inferSelect): Book {
  return {
    id: row.id,
    userId: row.userId,
    title: row.title,
    author: row.author,
    isbn: row.isbn,
    publishedYear: row.publishedYear,
    genre: row.genre,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

export async function listBooks(
  db: Database,
  userId: string,
  query: { limit: number; offset: number; search?: string | undefined },
): Promise<BookPage> {
  const search = query.search?.trim();
  const pattern = search ? `%${escapeLike(search)}%` : undefined;
  const where = pattern
    ? and(eq(books.userId, userId), or(ilike(books.title, pattern), ilike(books.author, pattern)))
    : eq(books.userId, userId);
  const [rows, [totals]] = await Promise.all([
    db.select().from(books).where(where).orderBy(desc(books.createdAt), desc(books.id)).limit(query.limit).offset(query.offset),
    db.select({ total: count() }).from(books).where(where),
  ]);
  const data = rows.map(toBook);
  return { count: data.length, data, total: totals?.total ?? 0, limit: query.limit, offset: query.offset };
}

export async function getBook(db: Database, userId: string, id: string): Promise<Book | null> {
  const [row] = await db
    .select()
    .from(books)
    .where(and(eq(books.id, id), eq(books.userId, userId)))
    .limit(1);
  return row ? toBook(row) : null;
}

export async function insertBook(db: Database, userId: string, input: BookInput): Promise<Book> {
  const [row] = await db
    .insert(books)
    .values({
      userId,
      title: input.title,
      author: input.author,
      isbn: input.isbn ?? null,
      publishedYear: input.publishedYear ?? null,
      genre: input.genre ?? null,
    })
    .returning();
  if (!row) throw new Error('insert returned no row');
  return toBook(row);
}

/** Applies the change if the book is the caller's and, when `expectedVersion` is given, still at that version. */
export async function updateBook(
  db: Database,
  userId: string,
  id: string,
  change: BookUpdate,
  expectedVersion?: number,
): Promise<Book | null> {
  const conditions = [eq(books.id, id), eq(books.userId, userId)];
  if (expectedVersion !== undefined) conditions.push(eq(books.version, expectedVersion));
  const [row] = await db
    .update(books)
    .set({ ...change, version: sql`${books.version} + 1`, updatedAt: sql`now()` })
    .where(and(...conditions))
    .returning();
  return row ? toBook(row) : null;
}

export async function deleteBook(db: Database, userId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(books)
    .where(and(eq(books.id, id), eq(books.userId, userId)))
    .returning({ id: books.id });
  return rows.length > 0;
}

/** Every user's books together, for the administrators' statistics. */
export async function countAllBooks(db: Database): Promise<number> {
  const [row] = await db.select({ n: count() }).from(books);
  return row?.n ?? 0;
}

/** Which of `isbns` the user already has (a bulk dry run's duplicates), a thousand per query. */
export async function ownedIsbns(db: Database, userId: string, isbns: string[]): Promise<Set<string>> {
  const owned = new Set<string>();
  for (let at = 0; at < isbns.length; at += 1000) {
    const rows = await db
      .select({ isbn: books.isbn })
      .from(books)
      .where(and(eq(books.userId, userId), inArray(books.isbn, isbns.slice(at, at + 1000))));
    for (const row of rows) if (row.isbn) owned.add(row.isbn);
  }
  return owned;
}
