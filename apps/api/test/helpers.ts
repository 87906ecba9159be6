import { randomBytes } from 'node:crypto';
import { createTestContext, type TestContext } from '@books/testing';
import { type App, buildApp } from '../src/app.js';

export interface ApiHarness {
  app: App;
  ctx: TestContext;
  close(): Promise<void>;
}

export async function startApi(label: string, env: Record<string, string> = {}): Promise<ApiHarness> {
  const ctx = await createTestContext(label, env);
  const app = await buildApp(ctx.config, { logger: false });
  await app.ready();
  return {
    app,
    ctx,
    async close() {
      await app.close();
      await ctx.cleanup();
    },
  };
}

export interface TestUser {
  id: string;
  username: string;
  email: string;
  password: string;
  token: string;
  auth: { authorization: string };
}

export async function signup(app: App, overrides: Partial<{ username: string; email: string; password: string }> = {}): Promise<TestUser> {
  const tag = randomBytes(4).toString('hex');
  const body = { username: `user_${tag}`, email: `user_${tag}@example.com`, password: 'correct horse battery', ...overrides };
  const res = await app.inject({ method: 'POST', url: '/auth/signup', payload: body });
  if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`);
  const json = res.json();
  return { id: json.data.id, ...body, token: json.token, auth: { authorization: `Bearer ${json.token}` } };
}

export async function addBook(app: App, user: TestUser, book: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/books', headers: user.auth, payload: book });
  if (res.statusCode !== 201) throw new Error(`add book failed: ${res.statusCode} ${res.body}`);
  return res.json().data;
}
