import {
  AuthResponseSchema,
  ErrorResponseSchema,
  LoginBodySchema,
  SignupBodySchema,
  SuccessEnvelope,
  UserSchema,
} from '@books/core/schemas';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, pgConstraint, pgErrorCode, unauthorized } from '../../errors.js';
import { queueAccountMail } from '../../services/account-mail.js';
import { recordAuthEvent } from '../../services/auth-events.js';
import { issueVerification, verificationMail } from '../../services/email-verification.js';
import { assertPasswordAllowed } from '../../services/password-policy.js';
import { hashPassword, verifyPassword } from '../../services/passwords.js';
import { deleteUser, findUserByEmail, insertUser, toUser } from '../../services/users-store.js';
import passwordRoutes from './passwords.js';
import sessionRoutes, { type SessionRoutesOptions } from './sessions.js';
import { openSession } from './tokens.js';
import verifyEmailRoutes from './verify-email.js';

const errors = { 400: ErrorResponseSchema, 401: ErrorResponseSchema, 409: ErrorResponseSchema, 429: ErrorResponseSchema };

const authRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (app, opts) => {
  const { config } = app;
  // /auth/* gets its own, stricter budget: these routes are where passwords get guessed.
  const authLimit = { rateLimit: { max: config.rateLimit.authMax, timeWindow: config.rateLimit.windowMs } };

  await app.register(verifyEmailRoutes);
  await app.register(passwordRoutes);

  app.post(
    '/signup',
    {
      config: authLimit,
      schema: {
        tags: ['auth'],
        summary: 'Create an account and get an access token and a refresh token',
        body: SignupBodySchema,
        response: { 201: AuthResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { username, email, password } = request.body;
      assertPasswordAllowed(password);
      const passwordHash = await hashPassword(password);
      let row: Awaited<ReturnType<typeof insertUser>>;
      let issued: Awaited<ReturnType<typeof issueVerification>>;
      try {
        // One transaction: no account without its verification link, nor a link without its account.
        ({ row, issued } = await app.db.transaction(async (tx) => {
          const inserted = await insertUser(tx, { username, email, passwordHash });
          return { row: inserted, issued: await issueVerification(tx, inserted, config.accounts.emailVerificationTtlMs) };
        }));
      } catch (err) {
        if (pgErrorCode(err) === '23505') {
          const taken = pgConstraint(err) === 'users_username_key' ? 'username is already taken' : 'email is already registered';
          throw new AppError(409, 'CONFLICT', `This ${taken}`);
        }
        throw err;
      }
      const user = toUser(row, config.adminEmails);
      request.log.info({ userId: user.id }, 'user signed up');
      // Redis being away does not fail the signup: POST /auth/verify-email/resend sends another link.
      await queueAccountMail(
        { redis: app.redis, keys: app.keys, log: request.log },
        verificationMail(config.accounts.publicBaseUrl, row, issued),
        user.id,
      );
      const tokens = await openSession(app, user, request.headers['user-agent']);
      return reply.code(201).send({ success: true, message: 'Account created', ...tokens, data: user });
    },
  );

  app.post(
    '/login',
    {
      config: authLimit,
      schema: {
        tags: ['auth'],
        summary: 'Exchange email and password for an access token and a refresh token (a new session)',
        body: LoginBodySchema,
        response: { 200: AuthResponseSchema, ...errors },
      },
    },
    async (request) => {
      const { email, password } = request.body;
      const row = await findUserByEmail(app.db, email);
      // One answer for an unknown email and a wrong password: no account enumeration.
      if (!(await verifyPassword(row?.passwordHash, password)) || !row) throw unauthorized('Invalid email or password');
      const user = toUser(row, config.adminEmails);
      request.log.info({ userId: user.id }, 'user logged in');
      const tokens = await openSession(app, user, request.headers['user-agent']);
      return { success: true as const, message: 'Logged in', ...tokens, data: user };
    },
  );

  app.get(
    '/me',
    {
      preParsing: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'The account behind the token',
        security: [{ bearerAuth: [] }],
        response: { 200: SuccessEnvelope(UserSchema), 401: ErrorResponseSchema },
      },
    },
    async (request) => ({ success: true as const, data: request.identity! }),
  );

  app.delete(
    '/me',
    {
      preParsing: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'Delete the account and all its books; its tokens stop working at once',
        security: [{ bearerAuth: [] }],
        response: { 204: { type: 'null', description: 'Deleted' }, 401: ErrorResponseSchema },
      },
    },
    async (request, reply) => {
      const userId = request.identity!.id;
      // The event commits with the deletion: every replica refuses the account's tokens from then on.
      const event = await app.db.transaction(async (tx) => {
        await deleteUser(tx, userId);
        return recordAuthEvent(tx, { userId, kind: 'user_deleted' }, config.jwt.expiresInMs);
      });
      await app.identities.heard(event.seq);
      await app.booksCache
        .invalidate(userId)
        .catch((err) => request.log.warn({ err, userId }, 'could not drop the deleted account from the books cache'));
      request.log.info({ userId }, 'account deleted');
      return reply.code(204).send(null);
    },
  );

  await app.register(sessionRoutes, { refreshRaceGraceMs: opts.refreshRaceGraceMs });
};

export default authRoutes;
