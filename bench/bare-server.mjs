// The baseline for api-cache.mjs: a bare Fastify route (no auth, no hooks, no plugins) answering
// GET /books with the body the API served from its cache, serialised through the same response schema.
// Usage: node bench/bare-server.mjs <port> <body.json>  (started by api-cache.mjs)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// The API's own copies, so both sides run the same fastify and schema versions.
const requireFromApi = createRequire(new URL('../apps/api/package.json', import.meta.url));
const Fastify = requireFromApi('fastify');
const { BookListResponseSchema } = await import(pathToFileURL(requireFromApi.resolve('@books/core/schemas')).href);

const [port, bodyFile] = process.argv.slice(2);
const body = JSON.parse(readFileSync(bodyFile, 'utf8'));
const app = Fastify({ logger: false });
app.get('/books', { schema: { response: { 200: BookListResponseSchema } } }, async () => body);

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => app.close().then(() => process.exit(0)));
await app.listen({ host: '127.0.0.1', port: Number(port) });
