// POST /books/bulk queues work for the bulk worker; GET /books/bulk/:requestId and GET /books/queue
// show how it is going. Nothing here touches the books table.
import {
  type BookInput,
  BulkAcceptedSchema,
  BulkRequestDetailSchema,
  bulkSubmitBodySchema,
  describeWait,
  ErrorResponseSchema,
  type FailedItem,
  listBulkRequests,
  nextRun,
  parseBookInput,
  publicBulkRequest,
  QueueViewSchema,
  readBulkRequest,
  readFailedItems,
  submitBulkRequest,
} from '@books/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AppError, notFound } from '../../errors.js';

const security = [{ bearerAuth: [] }];
const errors = {
  400: ErrorResponseSchema,
  401: ErrorResponseSchema,
  404: ErrorResponseSchema,
  413: ErrorResponseSchema,
  429: ErrorResponseSchema,
  503: ErrorResponseSchema,
};
const queueUnavailable = (cause: unknown) =>
  Object.assign(new AppError(503, 'QUEUE_UNAVAILABLE', 'The bulk queue is unavailable right now; nothing was queued. Try again shortly.'), {
    cause,
  });

const bulkRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app;

  app.post(
    '/bulk',
    {
      bodyLimit: config.bulk.bodyLimit,
      schema: {
        tags: ['bulk'],
        summary: 'Queue books to be added later by the bulk worker',
        description:
          'Answers 202 at once. Each item is checked like POST /books: invalid items are recorded as failed (with their index and reason) and the valid ones are queued. An optional `Idempotency-Key` header makes a retry within 24 hours return the original request instead of queueing again.',
        security,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
        body: bulkSubmitBodySchema(config.bulk.maxBooks),
        response: { 202: BulkAcceptedSchema, ...errors },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const now = new Date();
      const valid: { index: number; book: BookInput }[] = [];
      const invalid: FailedItem[] = [];
      request.body.books.forEach((item, index) => {
        const parsed = parseBookInput(item, now);
        if (parsed.ok) valid.push({ index, book: parsed.value });
        else invalid.push({ index, title: textField(item, 'title'), author: textField(item, 'author'), reason: parsed.reason });
      });
      const idempotencyKey = request.headers['idempotency-key'];
      let result: Awaited<ReturnType<typeof submitBulkRequest>>;
      try {
        result = await submitBulkRequest(app.redis, app.keys, {
          userId,
          submitted: request.body.books.length,
          valid,
          invalid,
          idempotencyKey,
          now,
        });
      } catch (err) {
        throw queueUnavailable(err);
      }
      const record = result.created ? null : await readBulkRequest(app.redis, app.keys, userId, result.requestId);
      const processingAt = nextRun(config.bulk.cron, now);
      const reportAt = nextRun(config.report.cron, processingAt);
      request.log.info(
        { userId, requestId: result.requestId, queued: valid.length, invalid: invalid.length, duplicate: !result.created },
        'bulk request queued',
      );
      reply.header('location', `/books/bulk/${result.requestId}`);
      return reply.code(202).send({
        success: true as const,
        message: result.created
          ? `Books will be added later. ${valid.length} queued, ${invalid.length} invalid; you will receive an email report in about ${describeWait(reportAt.getTime() - now.getTime())}.`
          : 'This Idempotency-Key was used before: nothing new was queued; here is the original request.',
        data: {
          requestId: result.requestId,
          queuedBooks: record ? record.queued : valid.length,
          invalidBooks: record ? record.submitted - record.queued : invalid.length,
          duplicate: !result.created,
          estimatedProcessingTime: describeWait(processingAt.getTime() - now.getTime()),
          estimatedReportTime: describeWait(reportAt.getTime() - now.getTime()),
          estimatedProcessingAt: processingAt.toISOString(),
          estimatedReportAt: reportAt.toISOString(),
        },
      });
    },
  );

  app.get(
    '/bulk/:requestId',
    {
      schema: {
        tags: ['bulk'],
        summary: 'One bulk request, with its failed items and their reasons',
        security,
        params: Type.Object({ requestId: Type.String({ format: 'uuid' }) }),
        response: { 200: BulkRequestDetailSchema, ...errors },
      },
    },
    async (request) => {
      const userId = request.identity!.id;
      const { requestId } = request.params;
      const record = await readBulkRequest(app.redis, app.keys, userId, requestId).catch((err) => {
        throw queueUnavailable(err);
      });
      if (!record) throw notFound('Bulk request');
      const failedItems = await readFailedItems(app.redis, app.keys, userId, requestId);
      return { success: true as const, data: { ...publicBulkRequest(record), failedItems } };
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
      const records = await listBulkRequests(app.redis, app.keys, userId).catch((err) => {
        throw queueUnavailable(err);
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

/** The title or author of an invalid item, if it had a usable one, for the report. */
function textField(item: unknown, field: 'title' | 'author'): string | null {
  const value = typeof item === 'object' && item !== null ? (item as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' && value.trim() ? value.trim().slice(0, 500) : null;
}

export default bulkRoutes;
