// Passwords: change (knowing the current one), and forgotten (a 6-digit code by email, then reset).
// Seed 002's names are kept as aliases: PUT /auth/forgot-password and POST /auth/verify-otp.
import type { Executor } from '@books/core/db';
import {
  ChangePasswordBodySchema,
  ErrorResponseSchema,
  ForgotPasswordBodySchema,
  MessageResponseSchema,
  ResetPasswordBodySchema,
} from '@books/core/schemas';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { queueAccountMail } from '../../services/account-mail.js';
import { assertPasswordAllowed } from '../../services/password-policy.js';
import { claimResetAttempt, completeReset, dropResetCode, newResetCode, storeResetCode } from '../../services/password-resets.js';
import { hashPassword, verifyPassword } from '../../services/passwords.js';
import { revokeUserSessions } from '../../services/sessions-store.js';
import { findUserById, setPasswordHash } from '../../services/users-store.js';

const FORGOT_ANSWER = {
  success: true as const,
  message: 'If an account has this address, a 6-digit code is on its way to it; it is valid for a few minutes',
};
// One error for an unknown address, no code, a wrong, used, expired or exhausted code: which one it
// is would tell whether the address has an account.
const invalidCode = () =>
  new AppError(400, 'RESET_CODE_INVALID', 'This code is not valid for this address; it may be wrong, used or expired');

const passwordRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app;
  const authLimit = { rateLimit: { max: config.rateLimit.authMax, timeWindow: config.rateLimit.windowMs } };
  const errors = { 400: ErrorResponseSchema, 429: ErrorResponseSchema };

  app.post(
    '/change-password',
    {
      config: authLimit,
      preParsing: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'Change the password, giving the current one',
        security: [{ bearerAuth: [] }],
        body: ChangePasswordBodySchema,
        response: { 200: MessageResponseSchema, 401: ErrorResponseSchema, ...errors },
      },
    },
    async (request) => {
      const userId = request.identity!.id;
      const { currentPassword, newPassword } = request.body;
      const row = await findUserById(app.db, userId);
      if (!row) throw new AppError(401, 'UNAUTHORIZED', 'The account behind this token no longer exists');
      // 400, not 401: the token is fine, and a client that logs out on 401 should not here.
      if (!(await verifyPassword(row.passwordHash, currentPassword))) {
        throw new AppError(400, 'CURRENT_PASSWORD_INCORRECT', 'The current password is not correct');
      }
      assertPasswordAllowed(newPassword, 'newPassword');
      const passwordHash = await hashPassword(newPassword);
      // The new password and the end of every other session commit together.
      const ended = await app.db.transaction(async (tx) => {
        await setPasswordHash(tx, userId, passwordHash);
        return revokeUserSessions(tx, userId, {
          exceptSessionId: request.sessionId!,
          reason: 'password_changed',
          tokenLifetimeMs: config.jwt.expiresInMs,
        });
      });
      await app.identities.heard(ended.seq);
      await dropResetCode(app.db, userId);
      request.log.info({ userId, sessionsEnded: ended.sessionIds.length }, 'password changed; other sessions ended');
      return { success: true as const, message: 'Password changed' };
    },
  );

  const forgotPassword = {
    config: authLimit,
    schema: {
      tags: ['auth'],
      body: ForgotPasswordBodySchema,
      response: { 202: MessageResponseSchema, ...errors },
    },
  };
  /**
   * The same work whether or not the address has an account, so neither the answer nor its timing
   * tells: one argon2 hash of a fresh code and one SQL statement that stores it only for a real
   * account. The email is queued without waiting on Redis.
   */
  const requestCode = async (request: FastifyRequest, email: string) => {
    const code = newResetCode();
    const codeHash = await hashPassword(code);
    const now = new Date();
    const ttlMs = config.accounts.passwordResetCodeTtlMs;
    const account = await storeResetCode(app.db, email, codeHash, ttlMs, now);
    if (account) {
      const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
      const mail = { kind: 'password-reset' as const, to: account.email, username: account.username, code, expiresAt };
      // Not awaited: the answer must not wait on Redis for real accounts only. queueAccountMail never rejects.
      void queueAccountMail({ redis: app.redis, keys: app.keys, log: request.log }, mail, account.id);
    }
    return FORGOT_ANSWER;
  };
  app.post(
    '/forgot-password',
    { ...forgotPassword, schema: { ...forgotPassword.schema, summary: 'Email a 6-digit reset code, if the address has an account' } },
    async (request, reply) => reply.code(202).send(await requestCode(request, request.body.email)),
  );
  app.put(
    '/forgot-password',
    { ...forgotPassword, schema: { ...forgotPassword.schema, summary: 'Alias of POST /auth/forgot-password (seed 002)' } },
    async (request, reply) => reply.code(202).send(await requestCode(request, request.body.email)),
  );

  const resetPassword = {
    config: authLimit,
    schema: { tags: ['auth'], body: ResetPasswordBodySchema, response: { 200: MessageResponseSchema, ...errors } },
  };
  const reset = async (request: FastifyRequest, body: { email: string; code: string; newPassword: string }) => {
    assertPasswordAllowed(body.newPassword, 'newPassword');
    const attempt = await claimResetAttempt(app.db, body.email);
    // Compared with a dummy hash when there is no live code, so both failures cost the same.
    const right = await verifyPassword(attempt?.codeHash, body.code);
    if (!attempt || !right) throw invalidCode();
    let seq: number | null = null;
    const endEverySession = async (tx: Executor) => {
      ({ seq } = await revokeUserSessions(tx, attempt.userId, { reason: 'password_reset', tokenLifetimeMs: config.jwt.expiresInMs }));
    };
    if (!(await completeReset(app.db, attempt.userId, attempt.codeHash, await hashPassword(body.newPassword), endEverySession))) {
      throw invalidCode();
    }
    await app.identities.heard(seq);
    request.log.info({ userId: attempt.userId }, 'password reset with an emailed code; every session ended');
    return { success: true as const, message: 'Password changed; log in with the new one' };
  };
  app.post(
    '/reset-password',
    { ...resetPassword, schema: { ...resetPassword.schema, summary: 'Set a new password with the emailed code (single use, 5 tries)' } },
    async (request) => reset(request, request.body),
  );
  app.post(
    '/verify-otp',
    { ...resetPassword, schema: { ...resetPassword.schema, summary: 'Alias of POST /auth/reset-password (seed 002)' } },
    async (request) => reset(request, request.body),
  );
};

export default passwordRoutes;
