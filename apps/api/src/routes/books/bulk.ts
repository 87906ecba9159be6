// POST /books/bulk queues work for the bulk worker; GET /books/bulk/:requestId and GET /books/queue
// show how it is going. Nothing here touches the books table.
import { randomUUID } from 'node:crypto';
import {
  countFailedItems,
  listBulkRequests,
  publicBulkRequest,
  readBulkRequest,
  readFailedItems,
  settleBulkSubmission,
  submitBulkRequest,
} from '@books/core/bulk';
import { describeWait, nextRun } from '@books/core/schedule';
import {
  type BookInput,
  BulkAcceptedSchema,
  BulkRequestDetailSchema,
  BulkUnavailableSchema,
  bulkSubmitBodySchema,
  ErrorResponseSchema,
  type FailedItem,
  parseBookInput,
  QueueViewSchema,
  UuidSchema,
} from '@books/core/schemas';
import { currentTraceparent } from '@books/core/telemetry';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AppError, notFound, queueUnreadable } from '../../errors.js';

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

/** The 503 that cannot say whether the request was stored: it gives the id to look up instead. */
const outcomeUnknown = (requestId: string) => ({
  success: false as const,
  error: `The bulk queue did not answer in time, so this request may or may not have been queued. Do not resend it blindly: GET /books/bulk/${requestId} tells (404 means it was not queued and never will be), or resend with the same Idempotency-Key.`,
  code: 'QUEUE_OUTCOME_UNKNOWN',
  requestId,
});

// ioredis refuses a command it never sent with this message (the API client has no offline
// queue): then, and only then, a failed submit certainly stored nothing.
const neverSent = (err: unknown) => err instanceof Error && err.message.startsWith("Stream isn't writeable");

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
        response: { 202: BulkAcceptedSchema, ...errors, 503: BulkUnavailableSchema },
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
        else {
          const submitted = submittedText(item);
          invalid.push({
            index,
            title: textField(item, 'title'),
            author: textField(item, 'author'),
            reason: parsed.reason,
            ...(submitted ? { submitted } : {}),
          });
        }
      });
      const idempotencyKey = request.headers['idempotency-key'];
      // The id is chosen here, so that a submit whose answer is lost can still be settled.
      const requestId = randomUUID();
      let result: Awaited<ReturnType<typeof submitBulkRequest>>;
      try {
        result = await submitBulkRequest(app.redis, app.keys, {
          userId,
          submitted: request.body.books.length,
          valid,
          invalid,
          idempotencyKey,
          now,
          requestId,
          traceparent: currentTraceparent(),
        });
      } catch (err) {
        if (neverSent(err)) throw queueUnavailable(err);
        // A timeout or a dropped connection: the script may have run. Ask, on the same client (so
        // after the submit, if it is still on its way), and void the id if it was not stored.
        let stored: boolean;
        try {
          stored = await settleBulkSubmission(app.redis, app.keys, userId, requestId);
        } catch {
          request.log.warn({ err, userId, requestId }, 'bulk submit outcome unknown: redis did not answer');
          return reply.code(503).header('retry-after', '5').header('location', `/books/bulk/${requestId}`).send(outcomeUnknown(requestId));
        }
        if (!stored) throw queueUnavailable(err);
        request.log.warn({ err, userId, requestId }, 'bulk submit answer was lost, but the request was stored');
        result = { requestId, created: true };
      }
      if (result.created) {
        app.metrics.bulkSubmissions.inc();
        app.metrics.bulkQueuedBooks.inc(valid.length);
      }
      const record = result.created ? null : await readBulkRequest(app.redis, app.keys, userId, result.requestId, request.log);
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
        summary: 'One bulk request, with its first failed items and their reasons (all of them: /failures)',
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

/**
 * An invalid item's fields as text, for the failures CSV to echo (`submitted`): scalars as written,
 * anything nested as JSON, each cut to 1,000 characters, at most 50 fields. Null if not an object.
 */
function submittedText(item: unknown): Record<string, string> | null {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return null;
  const fields = Object.entries(item as Record<string, unknown>)
    .slice(0, 50)
    .map(([key, value]): [string, string] => {
      const text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
      return [key.slice(0, 100), text.slice(0, 1000)];
    });
  return fields.length ? Object.fromEntries(fields) : null;
}

/** The title or author of an invalid item, if it had a usable one, for the report. */
function textField(item: unknown, field: 'title' | 'author'): string | null {
  const value = typeof item === 'object' && item !== null ? (item as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' && value.trim() ? value.trim().slice(0, 500) : null;
}

export default bulkRoutes;
