// The OpenAPI document, generated from the routes' TypeBox schemas, at /docs/json; Swagger UI at /docs.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export default fp(
  async function docs(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Books API',
          version: '0.1.0',
          description:
            'Per-user book collections with a Redis cache and asynchronous bulk imports. Authenticate with `POST /auth/signup` or `POST /auth/login` and send the token as `Authorization: Bearer <token>`. Passwords: 8 to 128 characters, no composition rules (NIST SP 800-63B). Errors: `{ success: false, error, code, details? }`.',
        },
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        tags: [
          { name: 'auth', description: 'Accounts and tokens' },
          { name: 'books', description: "The caller's books" },
          { name: 'bulk', description: 'Bulk imports, processed later by the bulk worker' },
          { name: 'webhooks', description: "The caller's completion webhook (Standard Webhooks) and its deliveries" },
          { name: 'reports', description: 'Report emails kept with their PDFs, and resends' },
          { name: 'admin', description: 'Operations' },
          { name: 'health', description: 'Probes' },
        ],
      },
    });
    // staticCSP replaces helmet's default policy on the UI's own routes only; it would blank the page.
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  },
  { name: 'docs' },
);
