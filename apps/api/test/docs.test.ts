import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ApiHarness, startApi } from './helpers.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi('docs');
});
afterAll(() => h?.close());

// The interactive docs serve their own pages and the document itself: not API routes.
const DOCS_PREFIX = '/docs';

/** Every `METHOD /path` Fastify registered, read from its route tree, in OpenAPI's `{param}` spelling. */
function registeredRoutes(tree: string): Set<string> {
  const routes = new Set<string>();
  const parents: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (.+) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    parents.length = depth;
    const path = parents.join('') + match[2]!;
    parents.push(match[2]!);
    const methods = match[3]!.split(', ');
    for (const method of methods) {
      // Fastify answers HEAD for every GET by itself (exposeHeadRoutes); OpenAPI leaves it implied.
      if (method === 'HEAD' && methods.includes('GET')) continue;
      if (path === DOCS_PREFIX || path.startsWith(`${DOCS_PREFIX}/`)) continue;
      routes.add(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes;
}

it('documents exactly the routes the API registered', async () => {
  const res = await h.app.inject({ method: 'GET', url: `${DOCS_PREFIX}/json` });
  expect(res.statusCode).toBe(200);
  const doc = res.json();
  expect(doc.openapi).toMatch(/^3\./);
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${path}`);
  }
  const registered = registeredRoutes(h.app.printRoutes({ commonPrefix: false }));
  expect([...documented].sort()).toEqual([...registered].sort());
  // The routes the README promises, so that reading the tree wrong (two empty sets agree) fails too.
  for (const expected of [
    'POST /auth/signup',
    'POST /auth/login',
    'GET /auth/me',
    'DELETE /auth/me',
    'GET /auth/verify-email/{token}',
    'POST /auth/verify-email/resend',
    'POST /auth/change-password',
    'POST /auth/forgot-password',
    'PUT /auth/forgot-password',
    'POST /auth/reset-password',
    'POST /auth/verify-otp',
    'GET /books',
    'POST /books',
    'GET /books/{id}',
    'PUT /books/{id}',
    'DELETE /books/{id}',
    'POST /books/bulk',
    'GET /books/bulk',
    'GET /books/bulk/{requestId}',
    'DELETE /books/bulk/{requestId}',
    'GET /books/bulk/{requestId}/failures',
    'GET /books/bulk/{requestId}/failures.csv',
    'GET /books/bulk/{requestId}/report',
    'GET /reports',
    'GET /reports/{id}',
    'GET /reports/{id}/pdf',
    'POST /reports/{id}/resend',
    'GET /books/queue',
    'GET /admin/stats',
    'GET /admin/bulk',
    'POST /admin/bulk/{requestId}/retry',
    'PUT /me/webhook',
    'GET /me/webhook',
    'DELETE /me/webhook',
    'POST /me/webhook/test',
    'GET /me/webhook/deliveries',
    'GET /health',
    'GET /health/live',
    'GET /health/ready',
  ]) {
    expect(documented).toContain(expected);
  }
  expect(doc.paths['/books'].get.responses['200']).toBeDefined();
  expect(doc.paths['/books'].post.requestBody.content['application/json'].schema.required).toEqual(['title', 'author']);
  expect(Object.keys(doc.paths['/books/bulk/{requestId}/failures.csv'].get.responses['200'].content)).toEqual(['text/csv']);
  const bulkBody = doc.paths['/books/bulk'].post.requestBody.content;
  expect(Object.keys(bulkBody).sort()).toEqual(['application/json', 'application/x-ndjson', 'text/csv']);
  expect(bulkBody['application/json'].schema.required).toEqual(['books']);
  expect(bulkBody['text/csv'].schema.description).toMatch(/publication_date/);
  expect(doc.paths['/books/bulk'].get.parameters.find((p: { name: string }) => p.name === 'stage').schema.anyOf).toHaveLength(6);
  expect(Object.keys(doc.paths['/admin/bulk/{requestId}/retry'].post.responses)).toEqual(
    expect.arrayContaining(['202', '403', '404', '409']),
  );
  expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
});

it('serves the interactive docs with a CSP that lets Swagger UI run', async () => {
  const res = await h.app.inject({ method: 'GET', url: '/docs/' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/text\/html/);
  expect(res.body).toContain('swagger');
  expect(res.headers['content-security-policy']).toMatch(/script-src 'self'/);
});

it('answers API routes with the security headers a JSON API needs (OWASP REST), and no document-only ones', async () => {
  for (const url of ['/health/live', '/books', '/nowhere']) {
    const res = await h.app.inject({ method: 'GET', url });
    expect(res.headers).toMatchObject({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    });
    for (const documentOnly of ['x-xss-protection', 'origin-agent-cluster', 'x-dns-prefetch-control', 'x-download-options']) {
      expect(res.headers[documentOnly]).toBeUndefined();
    }
    expect(res.headers['x-powered-by']).toBeUndefined();
  }
});
