import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ApiHarness, startApi } from './helpers.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi('docs');
});
afterAll(() => h?.close());

it('documents every API route in the OpenAPI document', async () => {
  const res = await h.app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  const doc = res.json();
  expect(doc.openapi).toMatch(/^3\./);
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${path}`);
  }
  for (const expected of [
    'POST /auth/signup',
    'POST /auth/login',
    'GET /auth/me',
    'DELETE /auth/me',
    'GET /books',
    'POST /books',
    'GET /books/{id}',
    'PUT /books/{id}',
    'DELETE /books/{id}',
    'GET /health',
    'GET /health/live',
    'GET /health/ready',
  ]) {
    expect(documented).toContain(expected);
  }
  expect(doc.paths['/books'].get.responses['200']).toBeDefined();
  expect(doc.paths['/books'].post.requestBody.content['application/json'].schema.required).toEqual(['title', 'author']);
  expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
});

it('serves the interactive docs with a CSP that lets Swagger UI run', async () => {
  const res = await h.app.inject({ method: 'GET', url: '/docs/' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/text\/html/);
  expect(res.body).toContain('swagger');
  expect(res.headers['content-security-policy']).toMatch(/script-src 'self'/);
  const api = await h.app.inject({ method: 'GET', url: '/health/live' });
  expect(api.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
  expect(api.headers['x-content-type-options']).toBe('nosniff');
});
