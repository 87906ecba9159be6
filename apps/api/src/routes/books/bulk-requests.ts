// A caller's bulk requests as resources: the list (GET /books/bulk), cancel (DELETE
// /books/bulk/:id), the failed items, paged as JSON or streamed as CSV, and the report that covered one.
import {
  cancelBulkRequest,
  listBulkRequestPage,
  publicBulkRequest,
  readBulkRequest,
  readFailedItemsPage,
  type StoredBulkRequest,
} from '@books/core/bulk';
import { findReportForRequest } from '@books/core/db';
import {
  BulkCancelResponseSchema,
  BulkListQuerySchema,
  BulkListResponseSchema,
  BulkRequestReportResponseSchema,
  ErrorResponseSchema,
  FailuresPageSchema,
  FailuresQuerySchema,
  UuidSchema,
} from '@books/core/schemas';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AppError, notFound, queueUnreadable } from '../../errors.js';
import { failuresCsv } from '../../services/failures-csv.js';
import { publicReport, reportPdfUrl, reportUrl } from '../../services/report-view.js';

const security = [{ bearerAuth: [] }];
const errors = {
  400: ErrorResponseSchema,
  401: ErrorResponseSchema,
  404: ErrorResponseSchema,
  429: ErrorResponseSchema,
  503: ErrorResponseSchema,
};
const params = Type.Object({ requestId: UuidSchema });

/** A Redis call of a read: unreachable Redis is a 503, not a 500. */
const guarded = <T>(work: Promise<T>): Promise<T> =>
  work.catch((err) => {
    throw queueUnreadable(err);
  });

const bulkRequestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app;

  async function ownRequest(userId: string, requestId: string, log: Parameters<typeof readBulkRequest>[4]): Promise<StoredBulkRequest> {
    const record = await guarded(readBulkRequest(app.redis, app.keys, userId, requestId, log));
    if (!record) throw notFound('Bulk request');
    return record;
  }

  app.get(
    '/bulk',
    {
      schema: {
        tags: ['bulk'],
        summary: 'Your bulk requests still on record, newest first, paged; `stage` keeps those in one stage',
        security,
        querystring: BulkListQuerySchema,
        response: { 200: BulkListResponseSchema, ...errors },
      },
    },
    async (request) => {
      const userId = request.identity!.id;
      const { limit, offset, stage } = request.query;
      const page = await guarded(listBulkRequestPage(app.redis, app.keys, userId, { limit, offset, stage }, request.log));
      return { success: true as const, data: page.records.map(publicBulkRequest), total: page.total, limit, offset };
    },
  );

  app.delete(
    '/bulk/:requestId',
    {
      schema: {
        tags: ['bulk'],
        summary: 'Cancel a bulk request',
        description:
          'A queued request is cancelled at once (200): none of its books are added. A request being processed (202) stops at the next chunk boundary and is cancelled with what went in so far. Both are in your next report email. Cancelling a cancelled request answers 200 again; one already processed or failed answers 409 BULK_REQUEST_FINISHED.',
        security,
        params,
        response: { 200: BulkCancelResponseSchema, 202: BulkCancelResponseSchema, ...errors, 409: ErrorResponseSchema },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const { requestId } = request.params;
      const result = await cancelBulkRequest(app.redis, app.keys, userId, requestId, {
        now: new Date(),
        cacheTtlMs: config.cacheTtlSeconds * 1000,
      }).catch((err) => {
        // Unknown outcome: the script may have run. Cancelling is idempotent, so "try again" is safe.
        throw Object.assign(
          new AppError(
            503,
            'QUEUE_UNAVAILABLE',
            'The bulk queue did not answer; the request may or may not be cancelled. Send the cancel again.',
          ),
          { cause: err },
        );
      });
      if (result.outcome === 'not_found') throw notFound('Bulk request');
      if (result.outcome === 'finished') {
        throw new AppError(
          409,
          'BULK_REQUEST_FINISHED',
          `This bulk request is ${result.stage.replaceAll('_', ' ')}; it can no longer be cancelled.`,
        );
      }
      const record = await ownRequest(userId, requestId, request.log);
      request.log.info({ userId, requestId, outcome: result.outcome, inserted: record.inserted }, 'bulk request cancel');
      if (result.outcome === 'cancel_requested') {
        return reply.code(202).send({
          success: true as const,
          message: `Cancelling: the request is being processed and stops at the next chunk boundary; what went in so far stays. GET /books/bulk/${requestId} shows when it is cancelled.`,
          data: publicBulkRequest(record),
        });
      }
      return {
        success: true as const,
        message: `Cancelled: ${record.inserted} of ${record.submitted} books had been added; the rest will not be. It is in your next report email.`,
        data: publicBulkRequest(record),
      };
    },
  );

  app.get(
    '/bulk/:requestId/report',
    {
      schema: {
        tags: ['bulk', 'reports'],
        summary: 'The report email that covered this bulk request, with links to it and its PDF',
        description:
          'The latest report kept (REPORT_RETENTION_DAYS) whose requests include this one; it may outlive the request’s own record. 404 REPORT_NOT_YET_SENT while the request awaits its report, REPORT_EXPIRED once its report is no longer kept; 404 NOT_FOUND for an unknown id, another user’s, or one whose report and record are both gone.',
        security,
        params,
        response: { 200: BulkRequestReportResponseSchema, ...errors },
      },
    },
    async (request) => {
      const userId = request.identity!.id;
      const { requestId } = request.params;
      const retentionMs = config.report.retentionMs;
      const report = await findReportForRequest(app.db, { userId, requestId, now: new Date(), retentionMs });
      if (report) {
        return {
          success: true as const,
          data: publicReport(report, retentionMs),
          links: { self: reportUrl(report.id), pdf: reportPdfUrl(report.id) },
        };
      }
      const record = await ownRequest(userId, requestId, request.log);
      if (record.reportMessageId)
        throw new AppError(404, 'REPORT_EXPIRED', 'The report of this request is no longer kept (REPORT_RETENTION_DAYS).');
      throw new AppError(
        404,
        'REPORT_NOT_YET_SENT',
        `No report covers this request yet: it is ${record.stage.replaceAll('_', ' ')}. Its report is emailed after it is processed.`,
      );
    },
  );

  app.get(
    '/bulk/:requestId/failures',
    {
      schema: {
        tags: ['bulk'],
        summary: "A bulk request's failed items with their reasons, paged",
        description:
          'In stored order: the items refused on submit first (by index), then those the database refused, chunk by chunk. Entries are only ever appended, so pages read while the request is processed stay consistent.',
        security,
        params,
        querystring: FailuresQuerySchema,
        response: { 200: FailuresPageSchema, ...errors },
      },
    },
    async (request) => {
      const userId = request.identity!.id;
      const { requestId } = request.params;
      const { limit, offset } = request.query;
      await ownRequest(userId, requestId, request.log);
      const page = await guarded(readFailedItemsPage(app.redis, app.keys, userId, requestId, { limit, offset }));
      return { success: true as const, data: page.items, total: page.total, limit, offset };
    },
  );

  app.get(
    '/bulk/:requestId/failures.csv',
    {
      schema: {
        tags: ['bulk'],
        summary: "A bulk request's failed items as CSV: each submitted row with the reason it failed",
        description:
          'Columns: row (the file row, or index + 1 for a JSON import), the submitted fields (title, author, isbn, publishedYear, genre, then any other submitted column), reason. A cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) is prefixed with a single quote.',
        security,
        params,
        produces: ['text/csv'],
        response: {
          200: { description: 'the CSV file', content: { 'text/csv': { schema: Type.String() } } },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const { requestId } = request.params;
      await ownRequest(userId, requestId, request.log);
      const csv = await guarded(
        failuresCsv(app.redis, app.keys, userId, requestId, (err) =>
          request.log.error({ err, userId, requestId }, 'failures CSV cut off: redis failed while streaming it'),
        ),
      );
      return (
        reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="bulk-${requestId}-failures.csv"`)
          // The schema says "a string" for the document; a stream is sent as read, never serialised.
          .send(csv as unknown as string)
      );
    },
  );
};

export default bulkRequestRoutes;
