// POST /books/bulk queues work for the bulk worker (a JSON array, or a CSV or NDJSON file streamed in); GET /books/bulk/:requestId and GET /books/queue
// show how it is going. Nothing here touches the books table.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  countFailedItems,
  listBulkRequests,
  publicBulkRequest,
  readBulkRequest,
  readFailedItems,
  StagingExpiredError,
  settleBulkSubmission,
  startStagedSubmission,
  submitBulkRequest,
  type ValidItem,
} from '@books/core/bulk';
import {
  BulkAcceptedSchema,
  BulkDryRunSchema,
  BulkRequestDetailSchema,
  type BulkSubmitBody,
  BulkUnavailableSchema,
  bulkSubmitBodySchema,
  ErrorResponseSchema,
  type FailedItem,
  QueueViewSchema,
  UuidSchema,
} from '@books/core/schemas';
import { currentTraceparent } from '@books/core/telemetry';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { AppError, notFound, queueUnreadable } from '../../errors.js';
import { ownedIsbns } from '../../services/books-store.js';
import { dryRunVerdicts } from '../../services/bulk-dry-run.js';
import { type CheckedItem, checkItem } from '../../services/bulk-items.js';
import { csvRows } from '../../services/csv-books.js';
import { checkedFileRows, StagingFailedError, stageFileRows } from '../../services/file-import.js';
import { MAX_ROW_BYTES } from '../../services/file-rows.js';
import { ndjsonRows } from '../../services/ndjson-books.js';
import { type Acceptance, queueUnavailable, submitAndAnswer } from './bulk-accept.js';

const security = [{ bearerAuth: [] }];
const errors = {
  400: ErrorResponseSchema,
  401: ErrorResponseSchema,
  404: ErrorResponseSchema,
  408: ErrorResponseSchema,
  413: ErrorResponseSchema,
  415: ErrorResponseSchema,
  429: ErrorResponseSchema,
  503: ErrorResponseSchema,
};
// A file body reaches the handler as the request stream, unread: it is parsed as it arrives.
const FILE_TYPES = { 'text/csv': 'csv', 'application/x-ndjson': 'ndjson' } as const;
type FileType = (typeof FILE_TYPES)[keyof typeof FILE_TYPES];
const fileTypeOf = (mediaType: string): FileType | undefined => FILE_TYPES[mediaType as keyof typeof FILE_TYPES];

const CSV_DESCRIPTION =
  'A header row naming the columns, in any order and case: title and author (required), isbn, publishedYear, genre, or publication_date (a date such as 2001-05-17, or a year) for publishedYear. Other columns are ignored and listed in `ignoredColumns`. UTF-8, with or without a BOM; LF or CRLF; fields with commas, quotes or newlines in double quotes. Empty lines are skipped. Up to BULK_MAX_ROWS rows after the header.';
const NDJSON_DESCRIPTION = 'One book a line, each a JSON object as for POST /books; empty lines are skipped. Up to BULK_MAX_ROWS lines.';
// No `type`: the body is the request stream itself, which no JSON Schema type describes; the
// schema is there for the OpenAPI document.
const fileBody = (description: string) => ({ schema: Type.Unsafe<Readable>({ description, format: 'binary' }) });

const uploadExpired = (cause: unknown) =>
  Object.assign(
    new AppError(408, 'UPLOAD_TOO_SLOW', 'The upload paused for so long that its staged rows expired; nothing was queued. Send it again.'),
    {
      cause,
    },
  );

/** What a file upload that stopped short answers; the connection closes, so no more of it is read. */
function uploadFailure(err: unknown, body: { aborted: boolean; broke: boolean }, reply: FastifyReply): unknown {
  reply.header('connection', 'close');
  if (body.aborted)
    return Object.assign(new AppError(400, 'UPLOAD_ABORTED', 'The upload broke off before its end; nothing was queued.'), { cause: err });
  if (err instanceof StagingFailedError)
    return err.cause instanceof StagingExpiredError ? uploadExpired(err.cause) : queueUnavailable(err.cause);
  // The body stream itself failed (a multipart body that ends before its closing boundary): the client's doing.
  if (body.broke) return malformedUpload(err);
  return err;
}

/** A multipart body the parser cannot read; its own 4xx (a file over the size limit, say) stand. */
function malformedUpload(err: unknown): unknown {
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return err;
  return Object.assign(
    new AppError(400, 'UPLOAD_MALFORMED', 'The multipart body is malformed or ends before its closing boundary; nothing was queued.'),
    { cause: err },
  );
}

const unsupportedType = (mediaType: string) =>
  new AppError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `POST /books/bulk takes application/json, text/csv or application/x-ndjson, not ${mediaType || 'a body without a type'}`,
  );

const DryRunQuerySchema = Type.Object({
  dryRun: Type.Boolean({
    default: false,
    description:
      'true: answer at once with the verdict for every item (duplicates of the collection and within the import included) and queue nothing; up to BULK_MAX_BOOKS items, whatever the body',
  }),
});

const notACsvFile = () =>
  new AppError(400, 'UPLOAD_NOT_CSV', 'POST /books/upload takes one file field holding a .csv file (multipart/form-data)');

const bulkRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app;
  const cron = { bulk: config.bulk.cron, report: config.report.cron };

  app.addContentTypeParser(Object.keys(FILE_TYPES), (_request, payload, done) => done(null, payload));
  // POST /books/upload (seed 002): the same CSV as a multipart form's file field, read as a stream.
  // A file is bounded by BULK_MAX_ROWS rows of at most MAX_ROW_BYTES; one file, no other part kept.
  await app.register(multipart, {
    limits: { files: 1, fields: 10, fileSize: (config.bulk.maxRows + 1) * MAX_ROW_BYTES },
  });

  /** The rows of a file body, and its ignored columns once its header is read (CSV). */
  const fileRows = (body: Readable, fileType: FileType) => {
    const header: { ignoredColumns?: string[] } = {};
    const rows = fileType === 'csv' ? csvRows(body, (read) => (header.ignoredColumns = read.ignoredColumns)) : ndjsonRows(body);
    return { rows, header };
  };

  /** A dry run: every item's verdict, nothing queued. */
  async function answerDryRun(
    userId: string,
    checked: AsyncIterable<CheckedItem> | Iterable<CheckedItem>,
    ignoredColumns?: () => string[] | undefined,
  ) {
    const result = await dryRunVerdicts(checked, (isbns) => ownedIsbns(app.db, userId, isbns));
    const columns = ignoredColumns?.();
    return { success: true as const, data: { dryRun: true as const, ...result, ...(columns ? { ignoredColumns: columns } : {}) } };
  }

  /** Stages a CSV or NDJSON stream as it arrives, then queues it in one commit (or drops it). */
  async function submitFile(
    request: FastifyRequest,
    reply: FastifyReply,
    body: Readable,
    fileType: FileType,
    accept: Omit<Acceptance, 'queued' | 'invalid' | 'submit'>,
    extra: Record<string, unknown> = {},
  ) {
    const { userId, requestId, now } = accept;
    const idempotencyKey = request.headers['idempotency-key'] as string | undefined;
    const staged = startStagedSubmission(app.redis, app.keys, userId, requestId);
    const { rows, header } = fileRows(body, fileType);
    let submitted: number;
    try {
      submitted = await stageFileRows(rows, staged, { maxRows: config.bulk.maxRows, now });
    } catch (err) {
      await staged.discard().catch((e) => request.log.warn({ err: e, userId, requestId }, 'could not drop a staged upload; it expires'));
      // The body stream's own error (`errored`): it may have been destroyed before anything listened,
      // when the whole body had arrived before the handler ran.
      throw uploadFailure(err, { aborted: request.raw.readableAborted || request.raw.destroyed, broke: body.errored != null }, reply);
    }
    return submitAndAnswer(
      {
        ...accept,
        queued: staged.queued,
        invalid: staged.failed,
        submit: () =>
          staged.commit({ submitted, idempotencyKey, now, traceparent: currentTraceparent() }).catch((err) => {
            throw err instanceof StagingExpiredError ? uploadExpired(err) : err;
          }),
        onNotStored: () => staged.discard(),
        extra: { ...extra, ...(fileType === 'csv' ? { ignoredColumns: header.ignoredColumns ?? [] } : {}) },
      },
      reply,
    );
  }

  app.post(
    '/bulk',
    {
      // Only JSON bodies are read whole; a file is bounded by BULK_MAX_ROWS and the row size instead.
      bodyLimit: config.bulk.bodyLimit,
      schema: {
        tags: ['bulk'],
        summary: 'Queue books to be added later by the bulk worker: a JSON array, a CSV file or NDJSON',
        description:
          'Answers 202 once everything is queued. Each item or row is checked like POST /books: invalid ones are recorded as failed (with their index, and for a file the row, column and reason) and the valid ones are queued. `application/json` takes up to BULK_MAX_BOOKS books; `text/csv` and `application/x-ndjson` are streamed, up to BULK_MAX_ROWS rows (413 `BULK_TOO_MANY_ROWS` beyond, nothing queued). An optional `Idempotency-Key` header makes a retry within 24 hours return the original request instead of queueing again.',
        security,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
        querystring: DryRunQuerySchema,
        body: {
          content: {
            'application/json': { schema: bulkSubmitBodySchema(config.bulk.maxBooks) },
            'text/csv': fileBody(CSV_DESCRIPTION),
            'application/x-ndjson': fileBody(NDJSON_DESCRIPTION),
          },
        },
        response: { 200: BulkDryRunSchema, 202: BulkAcceptedSchema, ...errors, 503: BulkUnavailableSchema },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const now = new Date();
      const idempotencyKey = request.headers['idempotency-key'];
      // The id is chosen here, so that a submit whose answer is lost can still be settled.
      const requestId = randomUUID();
      const accept = { redis: app.redis, keys: app.keys, log: request.log, metrics: app.metrics, cron, userId, requestId, now };
      const fileType = fileTypeOf(request.mediaType ?? '');
      if (fileType && request.query.dryRun) {
        const { rows, header } = fileRows(request.body as unknown as Readable, fileType);
        return answerDryRun(
          userId,
          checkedFileRows(rows, { maxRows: config.bulk.maxBooks, now, limitName: 'BULK_MAX_BOOKS, for a dry run' }),
          () => (fileType === 'csv' ? (header.ignoredColumns ?? []) : undefined),
        );
      }
      if (fileType) return submitFile(request, reply, request.body as unknown as Readable, fileType, accept);
      if (request.mediaType !== 'application/json') throw unsupportedType(request.mediaType ?? '');
      const { books } = request.body as BulkSubmitBody;
      const checked = books.map((item, index) => checkItem(item, index, now));
      if (request.query.dryRun) return answerDryRun(userId, checked);
      const valid: ValidItem[] = [];
      const invalid: FailedItem[] = [];
      for (const item of checked) {
        if (item.ok) valid.push(item.item);
        else invalid.push(item.failure);
      }
      return submitAndAnswer(
        {
          ...accept,
          queued: valid.length,
          invalid: invalid.length,
          submit: () =>
            submitBulkRequest(app.redis, app.keys, {
              userId,
              submitted: books.length,
              valid,
              invalid,
              idempotencyKey,
              now,
              requestId,
              traceparent: currentTraceparent(),
            }),
        },
        reply,
      );
    },
  );

  app.post(
    '/upload',
    {
      schema: {
        tags: ['bulk'],
        summary: 'Upload a CSV file as a multipart form (seed 002): the same import as POST /books/bulk with text/csv',
        description:
          'One file field holding a `.csv` file (the first file part is read; other parts are ignored), streamed like a text/csv body. Answers as POST /books/bulk does, with `uploadId` (the requestId) for GET /books/upload/{uploadId}. `?dryRun=true` checks it without queueing.',
        security,
        consumes: ['multipart/form-data'],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
        querystring: DryRunQuerySchema,
        response: { 200: BulkDryRunSchema, 202: BulkAcceptedSchema, ...errors, 503: BulkUnavailableSchema },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const now = new Date();
      const requestId = randomUUID();
      if (!request.isMultipart()) throw notACsvFile();
      const part = await request.file().catch((err: unknown) => {
        throw malformedUpload(err);
      });
      if (!part || !/\.csv$/i.test(part.filename)) {
        part?.file.resume();
        throw notACsvFile();
      }
      if (request.query.dryRun) {
        const { rows, header } = fileRows(part.file, 'csv');
        return answerDryRun(
          userId,
          checkedFileRows(rows, { maxRows: config.bulk.maxBooks, now, limitName: 'BULK_MAX_BOOKS, for a dry run' }),
          () => header.ignoredColumns ?? [],
        );
      }
      const accept = { redis: app.redis, keys: app.keys, log: request.log, metrics: app.metrics, cron, userId, requestId, now };
      return submitFile(request, reply, part.file, 'csv', accept, { uploadId: requestId });
    },
  );

  // GET /books/upload/:id (seed 002's upload status) is the same request under the other name.
  for (const path of ['/bulk/:requestId', '/upload/:requestId'] as const)
    app.get(
      path,
      {
        schema: {
          tags: ['bulk'],
          summary:
            path === '/bulk/:requestId'
              ? 'One bulk request, with its first failed items and their reasons (all of them: /failures)'
              : "An upload's status (POST /books/upload): the same as GET /books/bulk/{requestId}",
          security,
          params: Type.Object({ requestId: UuidSchema }),
          response: { 200: BulkRequestDetailSchema, ...errors },
        },
      },
      async (request) => {
        const userId = request.identity!.id;
        const { requestId } = request.params;
        const read = () =>
          readBulkRequest(app.redis, app.keys, userId, requestId, request.log).catch((err) => {
            throw queueUnreadable(err);
          });
        let record = await read();
        // A 404 must stay true: if this id is that of a submit whose answer was lost (a 503
        // QUEUE_OUTCOME_UNKNOWN), settling voids it, so that it can never be queued later.
        const settled = () =>
          settleBulkSubmission(app.redis, app.keys, userId, requestId).catch((err) => {
            throw queueUnreadable(err);
          });
        if (!record && (await settled())) record = await read();
        if (!record) throw notFound('Bulk request');
        // Capped: a file import may fail a million rows; every one is at /failures (paged) and failures.csv.
        const [failedItems, failedItemsTotal] = await Promise.all([
          readFailedItems(app.redis, app.keys, userId, requestId, config.bulk.maxBooks),
          countFailedItems(app.redis, app.keys, userId, requestId),
        ]).catch((err) => {
          throw queueUnreadable(err);
        });
        return {
          success: true as const,
          data: { ...publicBulkRequest(record), failedItems, failedItemsTotal, failuresUrl: `/books/bulk/${requestId}/failures` },
        };
      },
    );

  app.get(
    '/queue',
    {
      schema: {
        tags: ['bulk'],
        summary: 'Your bulk requests: the current state first, then every request on record, newest first',
        security,
        response: { 200: QueueViewSchema, ...errors },
      },
    },
    async (request) => {
      const userId = request.identity!.id;
      const records = await listBulkRequests(app.redis, app.keys, userId, request.log).catch((err) => {
        throw queueUnreadable(err);
      });
      const latest = records[0];
      return {
        success: true as const,
        data: {
          queued: records.some((r) => r.stage === 'queued'),
          processing: records.some((r) => r.stage === 'processing'),
          stage: latest?.stage ?? null,
          requestId: latest?.requestId ?? null,
          totalBooks: latest?.submitted ?? 0,
          booksCount: latest?.queued ?? 0,
          successCount: latest?.inserted ?? 0,
          failCount: latest?.failed ?? 0,
          queuedAt: latest?.queuedAt ?? null,
          requests: records.map(publicBulkRequest),
        },
      };
    },
  );
};

export default bulkRoutes;
