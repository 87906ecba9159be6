import { createTestContext, type TestContext, type TestUser } from '@books/testing';
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

export { signUp as signup, type TestUser } from '@books/testing';

export async function addBook(app: App, user: TestUser, book: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/books', headers: user.auth, payload: book });
  if (res.statusCode !== 201) throw new Error(`add book failed: ${res.statusCode} ${res.body}`);
  return res.json().data;
}
