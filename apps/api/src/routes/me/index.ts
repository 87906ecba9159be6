// /me: what belongs to the caller's account beyond its identity (/auth/me); today the completion webhook.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import webhookRoutes, { type WebhookRoutesOptions } from './webhook.js';

const meRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, opts) => {
  app.addHook('preParsing', app.authenticate);
  await app.register(webhookRoutes, { resolveHost: opts.resolveHost });
};

export default meRoutes;
