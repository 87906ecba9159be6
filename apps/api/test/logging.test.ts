import { loggerOptions } from '@books/core/runtime';
import { createTestContext, type TestContext } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/app.js';

let ctx: TestContext;
let app: App;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  ctx = await createTestContext('logging');
  // The production logger options, at info, written to memory instead of stdout.
  const stream = { write: (line: string) => lines.push(JSON.parse(line)) };
  app = await buildApp(ctx.config, { logger: { ...loggerOptions({ logLevel: 'info' }, 'api'), stream } });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await ctx?.cleanup();
});

describe('request logs', () => {
  it('writes one JSON line per request, with its request id and outcome, and never a password or token', async () => {
    const password = 'a very secret passphrase';
    const signup = await app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { username: 'logged_user', email: 'logged@example.com', password },
    });
    const { token, data: user } = signup.json();
    const list = await app.inject({
      method: 'GET',
      url: '/books',
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'trace-me-42' },
    });
    const missing = await app.inject({ method: 'GET', url: '/nowhere' });

    const requestLines = lines.filter((line) => line.msg === 'request');
    expect(requestLines).toHaveLength(3);
    expect(requestLines.map(({ method, url, statusCode }) => ({ method, url, statusCode }))).toEqual([
      { method: 'POST', url: '/auth/signup', statusCode: 201 },
      { method: 'GET', url: '/books', statusCode: 200 },
      { method: 'GET', url: '/nowhere', statusCode: 404 },
    ]);
    expect(requestLines[1]).toMatchObject({ service: 'api', reqId: 'trace-me-42', userId: user.id, level: 30 });
    expect(list.headers['x-request-id']).toBe('trace-me-42');
    expect(requestLines[2]?.reqId).toBe(missing.headers['x-request-id']);
    expect(typeof requestLines[0]?.ms).toBe('number');

    const everything = JSON.stringify(lines);
    expect(everything).not.toContain(password);
    expect(everything).not.toContain(token);
  });
});
