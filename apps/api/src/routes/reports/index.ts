// A caller's stored reports as resources: the list, one report's metadata, its PDF as it was
// attached, and a resend. The report worker writes them (and sends the resends); the API only
// reads the rows and queues resend requests, and never renders a PDF. Another user's report, or
// one past its expiry, is a 404.
import { findReport, findReportPdf, listReports } from '@books/core/db';
import { requestReportResend } from '@books/core/reports';
import {
  ErrorResponseSchema,
  IdParamsSchema,
  ReportEnvelopeSchema,
  ReportListQuerySchema,
  ReportListResponseSchema,
  ReportResendAcceptedSchema,
} from '@books/core/schemas';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AppError, notFound } from '../../errors.js';
import { publicReport } from '../../services/report-view.js';

/** One resend per user a minute: each is a full email with the PDF attached. */
export const REPORT_RESEND_THROTTLE_MS = 60_000;

const security = [{ bearerAuth: [] }];
const errors = { 400: ErrorResponseSchema, 401: ErrorResponseSchema, 404: ErrorResponseSchema, 429: ErrorResponseSchema };

const reportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('preParsing', app.authenticate);
  const retentionMs = app.config.report.retentionMs;

  app.get(
    '',
    {
      schema: {
        tags: ['reports'],
        summary: 'Your report emails still kept (REPORT_RETENTION_DAYS), newest first, paged; without the PDFs',
        security,
        querystring: ReportListQuerySchema,
        response: { 200: ReportListResponseSchema, ...errors },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const page = await listReports(app.db, { userId: request.identity!.id, now: new Date(), retentionMs, limit, offset });
      return { success: true as const, data: page.rows.map((row) => publicReport(row, retentionMs)), total: page.total, limit, offset };
    },
  );

  app.get(
    '/:id',
    {
      schema: {
        tags: ['reports'],
        summary: "One report's metadata: the requests it covers, when it was sent, its Message-ID, delivery and resend state",
        security,
        params: IdParamsSchema,
        response: { 200: ReportEnvelopeSchema, ...errors },
      },
    },
    async (request) => {
      const row = await findReport(app.db, { userId: request.identity!.id, id: request.params.id, now: new Date(), retentionMs });
      if (!row) throw notFound('Report');
      return { success: true as const, data: publicReport(row, retentionMs) };
    },
  );

  app.get(
    '/:id/pdf',
    {
      schema: {
        tags: ['reports'],
        summary: 'The report PDF, byte for byte as it was attached to the email, under the same file name',
        security,
        params: IdParamsSchema,
        produces: ['application/pdf'],
        response: {
          200: { description: 'the PDF file', content: { 'application/pdf': { schema: Type.String({ format: 'binary' }) } } },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const file = await findReportPdf(app.db, { userId: request.identity!.id, id: request.params.id, now: new Date(), retentionMs });
      if (!file) throw notFound('Report');
      return (
        reply
          .type('application/pdf')
          // The name is ours (reportFileName in the report worker: a date and hex digits), never user text.
          .header('content-disposition', `attachment; filename="${file.filename}"`)
          // A Buffer is sent as is, never serialised against the schema.
          .send(file.pdf as unknown as string)
      );
    },
  );

  app.post(
    '/:id/resend',
    {
      schema: {
        tags: ['reports'],
        summary: 'Email the stored report again (at most one resend a minute)',
        description:
          'Queued for the report worker, which sends it within seconds: the stored PDF under the original subject ("Your report, sent again: …"), to your current address, with a Message-ID of its own. GET /reports/{id} shows its state under `resend`. 409 REPORT_NOT_SENT_YET while the first send is still under way; 429 REPORT_RESEND_THROTTLED with Retry-After within a minute of your last resend.',
        security,
        params: IdParamsSchema,
        response: { 202: ReportResendAcceptedSchema, ...errors, 409: ErrorResponseSchema, 503: ErrorResponseSchema },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const { id } = request.params;
      const row = await findReport(app.db, { userId, id, now: new Date(), retentionMs });
      if (!row) throw notFound('Report');
      if (row.deliveryState === 'sending') {
        throw new AppError(409, 'REPORT_NOT_SENT_YET', 'This report is still being sent; ask for a resend once it is sent or failed.');
      }
      const outcome = await requestReportResend(app.redis, app.keys, {
        userId,
        reportId: id,
        now: new Date(),
        throttleMs: REPORT_RESEND_THROTTLE_MS,
      }).catch((err) => {
        // Unknown outcome: the script may have run. Asking again is safe: at worst it is throttled.
        throw Object.assign(new AppError(503, 'QUEUE_UNAVAILABLE', 'The resend could not be queued right now; try again shortly.'), {
          cause: err,
        });
      });
      if (!outcome.queued) {
        const seconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
        reply.header('retry-after', String(seconds));
        throw new AppError(429, 'REPORT_RESEND_THROTTLED', `You asked for a resend recently; try again in ${seconds} s`);
      }
      request.log.info({ userId, reportId: id, resendId: outcome.request.id }, 'report resend queued');
      return reply.code(202).send({
        success: true as const,
        message: `The report is on its way to your address again. GET /reports/${id} shows when it is sent.`,
        data: { resendId: outcome.request.id, reportId: id, requestedAt: outcome.request.requestedAt },
      });
    },
  );
};

export default reportRoutes;
