// GET /auth/verify-email/:token (the link of the verification email, as seed 002 names it) and
// POST /auth/verify-email/resend.
import type { Executor } from '@books/core/db';
import { ErrorResponseSchema, MessageResponseSchema, SuccessEnvelope, UserSchema, VerifyEmailParamsSchema } from '@books/core/schemas';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../../errors.js';
import { queueAccountMail } from '../../services/account-mail.js';
import { recordAuthEvent } from '../../services/auth-events.js';
import {
  consumeVerification,
  issueThrottledVerification,
  verificationMail,
  withdrawVerification,
} from '../../services/email-verification.js';
import { findUserById, toUser } from '../../services/users-store.js';

const FAILURES = {
  unknown: new AppError(404, 'VERIFICATION_TOKEN_UNKNOWN', 'This verification link is not valid'),
  used: new AppError(410, 'VERIFICATION_TOKEN_USED', 'This verification link was already used'),
  expired: new AppError(410, 'VERIFICATION_TOKEN_EXPIRED', 'This verification link has expired; ask for a new one'),
  'email-changed': new AppError(409, 'VERIFICATION_EMAIL_CHANGED', 'This link was sent to an address the account no longer has'),
} as const;

const verifyEmailRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app;
  const authLimit = { rateLimit: { max: config.rateLimit.authMax, timeWindow: config.rateLimit.windowMs } };

  app.get(
    '/verify-email/:token',
    {
      config: authLimit,
      schema: {
        tags: ['auth'],
        summary: 'Confirm the address with the single-use link of the verification email',
        params: VerifyEmailParamsSchema,
        response: {
          200: SuccessEnvelope(UserSchema),
          400: ErrorResponseSchema,
          404: ErrorResponseSchema,
          409: ErrorResponseSchema,
          410: ErrorResponseSchema,
          429: ErrorResponseSchema,
        },
      },
    },
    async (request) => {
      // Every replica's cached identity still says unverified (and so not admin): the event drops it.
      let seq: number | null = null;
      const announce = async (tx: Executor, userId: string) => {
        ({ seq } = await recordAuthEvent(tx, { userId, kind: 'user_changed' }, config.jwt.expiresInMs));
      };
      const outcome = await consumeVerification(app.db, request.params.token, announce);
      if (!outcome.ok) throw FAILURES[outcome.reason];
      const userId = outcome.user.id;
      await app.identities.heard(seq);
      request.log.info({ userId }, 'email verified');
      return { success: true as const, message: 'Email verified', data: toUser(outcome.user, config.adminEmails) };
    },
  );

  app.post(
    '/verify-email/resend',
    {
      config: authLimit,
      preParsing: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'Send a new verification link (at most one a minute and five an hour)',
        security: [{ bearerAuth: [] }],
        response: {
          202: MessageResponseSchema,
          401: ErrorResponseSchema,
          409: ErrorResponseSchema,
          429: ErrorResponseSchema,
          503: ErrorResponseSchema,
        },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      const row = await findUserById(app.db, userId);
      if (!row) throw new AppError(401, 'UNAUTHORIZED', 'The account behind this token no longer exists');
      if (row.emailVerifiedAt) throw new AppError(409, 'EMAIL_ALREADY_VERIFIED', 'This address is already verified');
      const outcome = await issueThrottledVerification(app.db, row, config.accounts.emailVerificationTtlMs);
      if (!outcome.ok) {
        reply.header('retry-after', String(outcome.retryAfterSeconds));
        throw new AppError(429, 'VERIFICATION_RESEND_THROTTLED', `A link was sent recently; try again in ${outcome.retryAfterSeconds} s`);
      }
      const mail = verificationMail(config.accounts.publicBaseUrl, row, outcome.issued);
      if (!(await queueAccountMail({ redis: app.redis, keys: app.keys, log: request.log }, mail, userId))) {
        // Not sent, so not counted: the user may try again at once.
        await withdrawVerification(app.db, outcome.issued.token);
        throw new AppError(503, 'MAIL_UNAVAILABLE', 'The email could not be queued; try again shortly');
      }
      return reply.code(202).send({ success: true as const, message: `A new verification link is on its way to ${row.email}` });
    },
  );
};

export default verifyEmailRoutes;
