// Bulk requests across users, for administrators: the failed ones, and their re-drive once the
// cause is fixed. Every call is logged as an admin action (who, what, which request).
import { adminBulkRequest, findRequestOwner, listFailedRequests, readBulkRequest, redriveBulkRequest } from '@books/core/bulk';
import {
  AdminBulkListQuerySchema,
  AdminBulkListResponseSchema,
  AdminBulkRetryResponseSchema,
  ErrorResponseSchema,
  UuidSchema,
} from '@books/core/schemas';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AppError, notFound, queueUnreadable } from '../../errors.js';

const security = [{ bearerAuth: [] }];
const errors = {
  400: ErrorResponseSchema,
  401: ErrorResponseSchema,
  403: ErrorResponseSchema,
  429: ErrorResponseSchema,
  503: ErrorResponseSchema,
};

/** A Redis read that fails is a 503 the admin may retry, never a 500. */
const guarded = <T>(work: Promise<T>): Promise<T> =>
  work.catch((err) => {
    throw queueUnreadable(err);
  });

const adminBulkRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app;

  app.get(
    '/bulk',
    {
      schema: {
        tags: ['admin'],
        summary: 'Failed bulk requests of every user, most recently failed first, paged (administrators only)',
        description:
          "Each request's owner, stage, counts (remaining: what a retry would process), attempts and last error; never its books. Listed while on record (BULK_RECORD_TTL_DAYS).",
        security,
        querystring: AdminBulkListQuerySchema,
        response: { 200: AdminBulkListResponseSchema, ...errors },
      },
    },
    async (request) => {
      const { stage, limit, offset } = request.query;
      request.log.info({ adminId: request.identity!.id, action: 'bulk.list', stage, limit, offset }, 'admin action');
      const page = await guarded(
        listFailedRequests(
          app.redis,
          app.keys,
          { limit, offset, now: new Date(), recordTtlSeconds: config.bulk.recordTtlSeconds },
          request.log,
        ),
      );
      return { success: true as const, data: page.records.map(adminBulkRequest), total: page.total, limit, offset };
    },
  );

  app.post(
    '/bulk/:requestId/retry',
    {
      schema: {
        tags: ['admin'],
        summary: 'Re-drive a failed bulk request: its remaining items are queued again (administrators only)',
        description:
          'For a request that failed (say, while Postgres was down) once the cause is fixed. Its attempts restart at 0, its failure is kept in previousFailures, and only the items it had not processed are inserted; it is then reported and announced like any request. 202 with its new state; 404 NOT_FOUND for an id that is neither failed nor pending; 409 BULK_REQUEST_NOT_FAILED for one in another stage, 409 BULK_ITEMS_EXPIRED when its remaining items are no longer kept.',
        security,
        params: Type.Object({ requestId: UuidSchema }),
        response: { 202: AdminBulkRetryResponseSchema, ...errors, 404: ErrorResponseSchema, 409: ErrorResponseSchema },
      },
    },
    async (request, reply) => {
      const adminId = request.identity!.id;
      const { requestId } = request.params;
      const userId = await guarded(findRequestOwner(app.redis, app.keys, requestId));
      const logAction = (outcome: string) =>
        request.log.info({ adminId, action: 'bulk.retry', requestId, userId, outcome }, 'admin action');
      if (!userId) {
        logAction('not_found');
        throw notFound('Failed bulk request');
      }
      const result = await redriveBulkRequest(app.redis, app.keys, userId, requestId, { now: new Date() }).catch((err) => {
        logAction('unknown');
        // Unknown outcome: the script may have run. Its stage (GET /admin/bulk, or a retry's 409) says.
        throw Object.assign(
          new AppError(503, 'QUEUE_UNAVAILABLE', 'The bulk queue did not answer; the request may or may not be queued again.'),
          { cause: err },
        );
      });
      logAction(result.outcome);
      if (result.outcome === 'not_found') throw notFound('Failed bulk request');
      if (result.outcome === 'not_failed') {
        throw new AppError(
          409,
          'BULK_REQUEST_NOT_FAILED',
          `This bulk request is ${result.stage.replaceAll('_', ' ')}; only a failed request can be retried.`,
        );
      }
      if (result.outcome === 'items_expired') {
        throw new AppError(409, 'BULK_ITEMS_EXPIRED', "This bulk request's remaining items are no longer kept; it cannot be retried.");
      }
      const record = await guarded(readBulkRequest(app.redis, app.keys, userId, requestId, request.log));
      if (!record) throw notFound('Failed bulk request');
      const view = adminBulkRequest(record);
      return reply.code(202).send({
        success: true as const,
        message: `Queued again: ${view.remaining} remaining books will be processed by the next bulk worker pass.`,
        data: view,
      });
    },
  );
};

export default adminBulkRoutes;
