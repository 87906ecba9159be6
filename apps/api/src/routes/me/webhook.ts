// /me/webhook: set, read and remove the caller's completion webhook, send it a test event, and list
// its deliveries. The URL is checked here (https, public addresses only) and again by the report
// worker before every delivery, which is what guards against a name that changes its address later.
import {
  ErrorResponseSchema,
  WebhookDeliveriesPageSchema,
  WebhookDeliveriesQuerySchema,
  WebhookResponseSchema,
  WebhookSetResponseSchema,
  WebhookTestAcceptedSchema,
  WebhookUrlBodySchema,
} from '@books/core/schemas';
import { checkWebhookUrl, type HostResolver, queueWebhookTestEvent, systemResolver } from '@books/core/webhooks';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, notFound } from '../../errors.js';
import { deleteWebhook, getWebhook, listWebhookDeliveries, setWebhook } from '../../services/webhooks-store.js';

export interface WebhookRoutesOptions {
  /** Tests resolve host names their own way; the system resolver otherwise. */
  resolveHost?: HostResolver;
}

const security = [{ bearerAuth: [] }];
const errors = { 401: ErrorResponseSchema, 404: ErrorResponseSchema, 429: ErrorResponseSchema };
const noWebhook = () => notFound('Webhook');

const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, opts) => {
  const policy = { allowPrivate: app.config.webhooks.allowPrivate, resolve: opts.resolveHost ?? systemResolver };

  app.put(
    '/webhook',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Set your completion webhook; answers its signing secret, this once',
        description:
          'Each bulk request that ends (completed, failed, cancelled) is POSTed to the URL, signed per Standard Webhooks with the secret answered here (whsec_…). Setting the webhook again replaces the URL and the secret. The URL must be https and its host must resolve only to public addresses (400 WEBHOOK_URL_INVALID, WEBHOOK_URL_UNRESOLVABLE or WEBHOOK_URL_FORBIDDEN_ADDRESS otherwise).',
        security,
        body: WebhookUrlBodySchema,
        response: { 200: WebhookSetResponseSchema, 201: WebhookSetResponseSchema, 400: ErrorResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const verdict = await checkWebhookUrl(request.body.url, policy);
      if (!verdict.ok) throw new AppError(400, verdict.code, `Webhook URL refused: ${verdict.reason}`);
      const { webhook, secret, created } = await setWebhook(app.db, userId, verdict.url.href);
      request.log.info({ userId, host: verdict.url.host, created }, 'webhook set');
      return reply.code(created ? 201 : 200).send({
        success: true as const,
        message: 'Keep the secret: it is shown only now. Verify each delivery with it (Standard Webhooks).',
        data: { ...webhook, secret },
      });
    },
  );

  app.get(
    '/webhook',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Your completion webhook (never its secret)',
        security,
        response: { 200: WebhookResponseSchema, ...errors },
      },
    },
    async (request) => {
      const webhook = await getWebhook(app.db, request.identity!.id);
      if (!webhook) throw noWebhook();
      return { success: true as const, data: webhook };
    },
  );

  app.delete(
    '/webhook',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Remove your completion webhook; deliveries still pending are failed, none is sent',
        security,
        response: { 204: { type: 'null', description: 'Removed' }, ...errors },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      if (!(await deleteWebhook(app.db, userId))) throw noWebhook();
      request.log.info({ userId }, 'webhook removed');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/webhook/test',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Queue a webhook.test event to your webhook',
        description:
          'Sent by the report worker within seconds, signed and retried like any delivery; GET /me/webhook/deliveries shows how it went.',
        security,
        response: { 202: WebhookTestAcceptedSchema, 503: ErrorResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      if (!(await getWebhook(app.db, userId))) throw noWebhook();
      const deliveryId = await queueWebhookTestEvent(app.redis, app.keys, userId).catch((err) => {
        throw Object.assign(new AppError(503, 'QUEUE_UNAVAILABLE', 'The event queue is unavailable right now; try again shortly.'), {
          cause: err,
        });
      });
      return reply.code(202).send({
        success: true as const,
        message: 'A webhook.test event is queued for your webhook.',
        data: { deliveryId, eventType: 'webhook.test' as const },
      });
    },
  );

  app.get(
    '/webhook/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: "Your webhook's deliveries, newest first, paged, each with its attempts",
        security,
        querystring: WebhookDeliveriesQuerySchema,
        response: { 200: WebhookDeliveriesPageSchema, 400: ErrorResponseSchema, ...errors },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const page = await listWebhookDeliveries(app.db, request.identity!.id, { limit, offset });
      return { success: true as const, data: page.deliveries, total: page.total, limit, offset };
    },
  );
};

export default webhookRoutes;
