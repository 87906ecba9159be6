import { booksCacheField } from '@books/core/cache';
import {
  BookInputSchema,
  BookListQuerySchema,
  BookListResponseSchema,
  BookSchema,
  BookUpdateSchema,
  ErrorResponseSchema,
  IdParamsSchema,
  normalizeBookFields,
  SuccessEnvelope,
} from '@books/core/schemas';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { AppError, notFound, pgErrorCode, validationError } from '../../errors.js';
import { deleteBook, getBook, insertBook, listBooks, updateBook } from '../../services/books-store.js';
import bulkRoutes from './bulk.js';
import bulkRequestRoutes from './bulk-requests.js';

const BookEnvelope = SuccessEnvelope(BookSchema);
const errors = { 400: ErrorResponseSchema, 401: ErrorResponseSchema, 404: ErrorResponseSchema, 429: ErrorResponseSchema };
const security = [{ bearerAuth: [] }];

const etagOf = (version: number) => `"${version}"`;

// The version column is int4: a tag beyond it (or `"1e308"`) is no version of any book.
const INT4_MAX = 2_147_483_647;
const ENTITY_TAG = /^(?:W\/)?"(\d{1,10})"$/;

/**
 * If-Match: `*` or a list of ETags (weak ones compared by their value). Returns the version demanded,
 * undefined for none, or -1 for a header no current version can match (a 412, never a query error).
 */
function expectedVersion(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const versions = header.split(',').map((tag) => {
    const digits = ENTITY_TAG.exec(tag.trim())?.[1];
    const version = digits === undefined ? Number.NaN : Number(digits);
    return version <= INT4_MAX ? version : Number.NaN;
  });
  const valid = versions.filter(Number.isInteger);
  return valid.length === 1 ? valid[0] : -1;
}

const duplicateIsbn = () => new AppError(409, 'DUPLICATE_ISBN', 'You already have a book with this ISBN');

const booksRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('preParsing', app.authenticate);
  await app.register(bulkRoutes);
  await app.register(bulkRequestRoutes);

  app.get(
    '',
    {
      schema: {
        tags: ['books'],
        summary: "List the caller's books, newest first (cached per user)",
        description:
          'Served from Redis when cached: `source` in the body and the `X-Cache` header say which. Any write by the user empties the cache.',
        security,
        querystring: BookListQuerySchema,
        response: { 200: BookListResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const field = booksCacheField(request.query);
      const cached = await app.booksCache.read(userId, field);
      if (cached.value !== null) {
        app.metrics.cacheHits.inc();
        return sendPage(reply, 'HIT', cached.value);
      }
      app.metrics.cacheMisses.inc();
      const page = JSON.stringify(await listBooks(app.db, userId, request.query));
      await app.booksCache.fill(userId, field, pageBody('cache', page), cached.gen);
      return sendPage(reply, 'MISS', pageBody('database', page));
    },
  );

  app.get(
    '/:id',
    {
      schema: {
        tags: ['books'],
        summary: 'One of the caller’s books',
        security,
        params: IdParamsSchema,
        response: { 200: BookEnvelope, ...errors },
      },
    },
    async (request, reply) => {
      const book = await getBook(app.db, request.identity!.id, request.params.id);
      if (!book) throw notFound('Book');
      reply.header('etag', etagOf(book.version));
      return { success: true as const, data: book };
    },
  );

  app.post(
    '',
    {
      schema: {
        tags: ['books'],
        summary: 'Add a book',
        description:
          'Title and author are required. Unknown properties, and read-only ones (id, userId, version, timestamps), are ignored.',
        security,
        body: BookInputSchema,
        response: { 201: BookEnvelope, 409: ErrorResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const input = normalizeBookFields(request.body);
      if (!input.ok) throw validationError(input.details);
      const book = await insertBook(app.db, userId, input.value).catch((err) => {
        throw pgErrorCode(err) === '23505' ? duplicateIsbn() : err;
      });
      await app.booksCache.invalidate(userId);
      reply.header('etag', etagOf(book.version)).header('location', `/books/${book.id}`);
      return reply.code(201).send({ success: true as const, message: 'Book created', data: book });
    },
  );

  app.put(
    '/:id',
    {
      schema: {
        tags: ['books'],
        summary: 'Change a book',
        description:
          'Send any of title, author, isbn, publishedYear, genre (null clears an optional one); a whole book as received is accepted, its read-only fields ignored. Send `If-Match` with the ETag you read to refuse the change (412) if someone else changed the book since.',
        security,
        params: IdParamsSchema,
        body: BookUpdateSchema,
        headers: { type: 'object', properties: { 'if-match': { type: 'string', description: 'the ETag from GET/POST/PUT' } } },
        response: { 200: BookEnvelope, 409: ErrorResponseSchema, 412: ErrorResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const change = normalizeBookFields(request.body);
      if (!change.ok) throw validationError(change.details);
      if (Object.keys(change.value).length === 0) {
        throw validationError([{ path: '/', message: 'must set at least one of title, author, isbn, publishedYear, genre' }]);
      }
      const version = expectedVersion(request.headers['if-match']);
      const book = await updateBook(app.db, userId, request.params.id, change.value, version).catch((err) => {
        throw pgErrorCode(err) === '23505' ? duplicateIsbn() : err;
      });
      if (!book) {
        if (version !== undefined && (await getBook(app.db, userId, request.params.id))) {
          throw new AppError(412, 'PRECONDITION_FAILED', 'The book changed since you read it: fetch it again and retry with its new ETag');
        }
        throw notFound('Book');
      }
      await app.booksCache.invalidate(userId);
      reply.header('etag', etagOf(book.version));
      return { success: true as const, message: 'Book updated', data: book };
    },
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags: ['books'],
        summary: 'Delete a book',
        security,
        params: IdParamsSchema,
        response: { 204: { type: 'null', description: 'Deleted' }, ...errors },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      if (!(await deleteBook(app.db, userId, request.params.id))) throw notFound('Book');
      await app.booksCache.invalidate(userId);
      return reply.code(204).send(null);
    },
  );
};

// The cache holds each page as the very bytes of a cache-hit response body: a hit sends what Redis
// returned as it is, with no parse, serialisation, UTF-8 encoding or copy on the hot path. The
// route's response schema still documents the body, and its tests check both sources against it.
function pageBody(source: 'cache' | 'database', page: string): string {
  // page is `{"count":…}`: its opening brace gives way to the envelope's first fields.
  return `{"success":true,"source":"${source}",${page.slice(1)}`;
}

function sendPage(reply: FastifyReply, xCache: 'HIT' | 'MISS', body: Buffer | string) {
  return reply.header('x-cache', xCache).type('application/json; charset=utf-8').send(body);
}

export default booksRoutes;
