// The helpers every test package had its own copy of: a silent logger, sign-up, a bulk submit and
// valid ISBNs. They talk to an injected app (`app.inject`) or, through `Send`, to a real API process.
import { randomBytes } from 'node:crypto';
import { createLogger } from '@books/core/runtime';

/** For code under test that wants a logger when the test has nothing to read in its lines. */
export const silentLogger: ReturnType<typeof createLogger> = createLogger({ logLevel: 'silent' }, 'test');

// biome-ignore lint/suspicious/noExplicitAny: answers are read as the JSON the test expects.
type JsonAnswer = any;

/** What tests need of a Fastify app: `inject`. */
export interface InjectableApp {
  inject(options: { method: string; url: string; headers?: Record<string, string>; payload?: unknown }): Promise<{
    statusCode: number;
    headers: Record<string, string | string[] | number | undefined>;
    body: string;
    json(): JsonAnswer;
  }>;
}

/** One HTTP exchange with the API, however it is reached; `body` is the parsed JSON answer. */
export type Send = (
  method: string,
  url: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<{ status: number; body: JsonAnswer }>;

export function sendByInject(app: InjectableApp): Send {
  return async (method, url, payload, headers) => {
    const res = await app.inject({ method, url, ...(headers ? { headers } : {}), ...(payload === undefined ? {} : { payload }) });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  };
}

const sendOf = (target: InjectableApp | Send): Send => (typeof target === 'function' ? target : sendByInject(target));

export interface TestUser {
  id: string;
  username: string;
  email: string;
  password: string;
  token: string;
  /** The session's refresh token (POST /auth/refresh). */
  refreshToken: string;
  auth: { authorization: string };
}

/** Signs a new user up through POST /auth/signup; unnamed fields get unique values. */
export async function signUp(
  target: InjectableApp | Send,
  fields: Partial<{ username: string; email: string; password: string }> = {},
): Promise<TestUser> {
  const username = fields.username ?? `user_${randomBytes(4).toString('hex')}`;
  const body = { username, email: fields.email ?? `${username}@example.com`, password: fields.password ?? 'correct horse battery' };
  const res = await sendOf(target)('POST', '/auth/signup', body);
  if (res.status !== 201) throw new Error(`signup ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  const token: string = res.body.token;
  return { id: res.body.data.id, ...body, token, refreshToken: res.body.refreshToken, auth: { authorization: `Bearer ${token}` } };
}

/** POST /books/bulk as the user; the answer, whatever it is. */
export function submitBulk(app: InjectableApp, user: Pick<TestUser, 'auth'>, books: unknown[], headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/books/bulk', headers: { ...user.auth, ...headers }, payload: { books } });
}

/** POST /books/bulk that must be accepted: its request id. */
export async function queueBulk(app: InjectableApp, user: Pick<TestUser, 'auth'>, books: unknown[]): Promise<string> {
  const res = await submitBulk(app, user, books);
  if (res.statusCode !== 202) throw new Error(`bulk: ${res.statusCode} ${res.body}`);
  return JSON.parse(res.body).data.requestId;
}

/**
 * A valid ISBN-13, distinct per (seed, n) for n below 10,000: the seed (a number, or a string
 * hashed to one) picks a block of 10,000 ISBNs, so each test or user can take its own.
 */
export function isbn13(seed: string | number, n: number): string {
  if (!Number.isInteger(n) || n < 0 || n >= 10_000) throw new Error(`isbn13: n must be 0..9999 (got ${n})`);
  let block = 0;
  if (typeof seed === 'number') block = seed % 100_000;
  else for (const ch of seed) block = (block * 31 + ch.charCodeAt(0)) % 100_000;
  const body = `978${String(block).padStart(5, '0')}${String(n).padStart(4, '0')}`;
  const sum = [...body].reduce((acc, digit, i) => acc + Number(digit) * (i % 2 === 0 ? 1 : 3), 0);
  return body + ((10 - (sum % 10)) % 10);
}

/** Valid books with ISBN-13s computed from the prefix, so tests can make as many as they need. */
export function makeBooks(count: number, prefix = 'Book'): { title: string; author: string; isbn: string; publishedYear: number }[] {
  return Array.from({ length: count }, (_, n) => ({
    title: `${prefix} ${n}`,
    author: `Author ${n % 7}`,
    isbn: isbn13(prefix, n),
    publishedYear: 1950 + (n % 70),
  }));
}
