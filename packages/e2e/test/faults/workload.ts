// Seeded imports for the fault suite: several users, several requests each, every request with one
// item the API refuses (no author) and one the database refuses (an ISBN repeated within the
// import), so "correct counts" means something. Titles are unique per (user, request, item), so a
// book in Postgres says which answer it came from.
import { isbn13, type SignedUp, type System } from '../system.js';

/** mulberry32: a tiny seeded generator, so a failing run can be replayed with FAULTS_SEED. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function suiteSeed(label: string): number {
  const seed = process.env.FAULTS_SEED ? Number(process.env.FAULTS_SEED) : Math.floor(Math.random() * 2 ** 31);
  console.log(`[${label}] seed ${seed} (replay with FAULTS_SEED=${seed})`);
  return seed;
}

export const between = (random: () => number, min: number, max: number) => min + Math.floor(random() * (max - min + 1));

export interface PlannedImport {
  user: SignedUp;
  /** Unique per user: the ISBN prefix and part of every title. */
  no: number;
  books: Record<string, unknown>[];
  expectedInserted: number;
  expectedFailed: number;
  /** What POST /books/bulk answered. */
  status?: number;
  // biome-ignore lint/suspicious/noExplicitAny: the answer's body, checked field by field
  body?: any;
  requestId?: string;
}

export function planImport(user: SignedUp, no: number, size: number, random: () => number): PlannedImport {
  const books: Record<string, unknown>[] = Array.from({ length: size }, (_, i) => ({
    title: titleOf(user, no, i),
    author: `Author ${no}`,
    isbn: isbn13(no, i),
  }));
  const noAuthor = between(random, 0, size - 1);
  books[noAuthor] = { title: titleOf(user, no, noAuthor) };
  const withAuthor = books.map((_, i) => i).filter((i) => i !== noAuthor);
  const later = between(random, 1, withAuthor.length - 1);
  const earlier = between(random, 0, later - 1);
  books[withAuthor[later]!] = { ...books[withAuthor[later]!], isbn: isbn13(no, withAuthor[earlier]!) };
  // The first of two items with one ISBN goes in; the second fails.
  return { user, no, books, expectedInserted: size - 2, expectedFailed: 2 };
}

export const titlePrefix = (user: SignedUp, no: number) => `${user.username} import ${no} book `;
export const titleOf = (user: SignedUp, no: number, index: number) => `${titlePrefix(user, no)}${index}`;

/** POST /books/bulk; records the answer on the plan. A refused connection counts as no answer (status 0). */
export async function submit(system: System, plan: PlannedImport): Promise<PlannedImport> {
  try {
    const res = await system.api('POST', '/books/bulk', { token: plan.user.token, body: { books: plan.books } });
    plan.status = res.status;
    plan.body = res.body;
    plan.requestId = res.body?.data?.requestId ?? res.body?.requestId;
  } catch (err) {
    plan.status = 0;
    plan.body = { error: String(err) };
  }
  return plan;
}
