import { randomBytes } from 'node:crypto';
import { type App, buildApp } from '@books/api';
import { loadBulkWorkerConfig } from '@books/core/config';
import { createTestContext, type TestContext } from '@books/testing';
import { pino } from 'pino';
import { createBulkDeps } from '../src/wiring.js';

export type BulkTestDeps = ReturnType<typeof createBulkDeps>;

export interface BulkHarness {
  ctx: TestContext;
  app: App;
  deps: BulkTestDeps;
  /** Another worker replica: its own clients, same database and namespace. */
  replica(env?: Record<string, string>): BulkTestDeps;
  close(): Promise<void>;
}

export const silent = pino({ level: 'silent' });

export async function startBulkHarness(label: string, env: Record<string, string> = {}): Promise<BulkHarness> {
  const ctx = await createTestContext(label, { BULK_CHUNK_SIZE: '7', ...env });
  const app = await buildApp(ctx.config, { logger: false });
  await app.ready();
  const opened: BulkTestDeps[] = [];
  const replica = (extra: Record<string, string> = {}) => {
    const deps = createBulkDeps(loadBulkWorkerConfig({ ...ctx.env, ...extra }), silent);
    opened.push(deps);
    return deps;
  };
  return {
    ctx,
    app,
    deps: replica(),
    replica,
    async close() {
      await app.close();
      await Promise.all(opened.map((deps) => deps.close()));
      await ctx.cleanup();
    },
  };
}

export interface User {
  id: string;
  email: string;
  auth: { authorization: string };
}

export async function signup(app: App, email?: string): Promise<User> {
  const tag = randomBytes(4).toString('hex');
  const res = await app.inject({
    method: 'POST',
    url: '/auth/signup',
    payload: { username: `u_${tag}`, email: email ?? `u_${tag}@example.com`, password: 'a long enough password' },
  });
  if (res.statusCode !== 201) throw new Error(`signup: ${res.statusCode} ${res.body}`);
  const body = res.json();
  return { id: body.data.id, email: body.data.email, auth: { authorization: `Bearer ${body.token}` } };
}

export async function submit(app: App, user: User, books: unknown[], headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/books/bulk', headers: { ...user.auth, ...headers }, payload: { books } });
}

export const queueView = async (app: App, user: User) =>
  (await app.inject({ method: 'GET', url: '/books/queue', headers: user.auth })).json().data;
export const requestView = async (app: App, user: User, requestId: string) =>
  (await app.inject({ method: 'GET', url: `/books/bulk/${requestId}`, headers: user.auth })).json().data;

export async function titlesInDb(deps: BulkTestDeps, userId: string): Promise<string[]> {
  const rows = await deps.sql<{ title: string }[]>`select title from books where user_id = ${userId} order by title`;
  return rows.map((row) => row.title);
}

/** Valid books with ISBN-13s computed from a seed, so tests can make as many as they need. */
export function makeBooks(count: number, prefix = 'Book'): { title: string; author: string; isbn: string; publishedYear: number }[] {
  return Array.from({ length: count }, (_, n) => ({
    title: `${prefix} ${n}`,
    author: `Author ${n % 7}`,
    isbn: isbn13(prefix, n),
    publishedYear: 1950 + (n % 70),
  }));
}

function isbn13(prefix: string, n: number): string {
  let seed = 0;
  for (const ch of prefix) seed = (seed * 31 + ch.charCodeAt(0)) % 100_000;
  const body = `978${String(seed).padStart(5, '0')}${String(n).padStart(4, '0')}`.slice(0, 12);
  const sum = [...body].reduce((acc, digit, i) => acc + Number(digit) * (i % 2 === 0 ? 1 : 3), 0);
  return body + ((10 - (sum % 10)) % 10);
}
