// The API's /metrics: on the API port only when METRICS_ON_API_PORT says so, with durations by
// route template, rate-limited requests by limit, and no id ever used as a label.
import { createTestContext, signUp, type TestContext } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type App, buildApp } from '../src/app.js';

let ctx: TestContext;
let app: App;
let plain: App;
beforeAll(async () => {
  ctx = await createTestContext('metrics', {
    METRICS_ON_API_PORT: 'true',
    RATE_LIMIT_MAX: '3',
    AUTH_RATE_LIMIT_MAX: '1',
    RATE_LIMIT_WINDOW: '1m',
  });
  app = await buildApp(ctx.config, { logger: false });
  plain = await buildApp({ ...ctx.config, metricsOnApiPort: false }, { logger: false });
});
afterAll(async () => {
  await app?.close();
  await plain?.close();
  await ctx?.cleanup();
});

const scrape = async () => {
  const response = await app.inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.body;
};
const line = (text: string, start: string) => text.split('\n').find((l) => l.startsWith(start));

it('is served on the API port only with METRICS_ON_API_PORT, and is not in the OpenAPI document', async () => {
  expect((await plain.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
  const text = await scrape();
  expect(text).toContain('# TYPE http_request_duration_seconds histogram');
  expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
  const docs = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  expect(Object.keys(docs.paths)).not.toContain('/metrics');
});

it('labels requests by route template, counts 429s by limit, and never carries ids', async () => {
  const user = await signUp(app);
  const id = '00000000-0000-4000-8000-000000000000';
  await app.inject({ method: 'GET', url: `/books/${id}`, headers: user.auth, remoteAddress: '10.9.0.1' });
  await app.inject({ method: 'GET', url: `/no/such/${id}`, remoteAddress: '10.9.0.2' });
  for (let i = 0; i < 4; i++) await app.inject({ method: 'GET', url: '/books', remoteAddress: '10.9.0.3' });
  for (let i = 0; i < 2; i++)
    await app.inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress: '10.9.0.4',
      payload: { email: 'x@example.com', password: 'whatever123' },
    });

  const text = await scrape();
  expect(line(text, 'http_request_duration_seconds_count{route="/books/:id",method="GET",status_code="404"}')).toMatch(/ 1$/);
  expect(line(text, 'http_request_duration_seconds_count{route="unmatched",method="GET",status_code="404"}')).toMatch(/ 1$/);
  expect(line(text, 'http_rate_limited_total{limit="global"}')).toMatch(/ 1$/);
  expect(line(text, 'http_rate_limited_total{limit="auth"}')).toMatch(/ 1$/);
  expect(text).not.toContain(id);
  expect(text).not.toContain(user.id);
});
