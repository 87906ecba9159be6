// /auth/refresh, /auth/logout, /auth/logout-all and /auth/sessions: a session's life after sign-in.
import {
  ErrorResponseSchema,
  IdParamsSchema,
  RefreshBodySchema,
  RefreshResponseSchema,
  SessionSchema,
  SuccessEnvelope,
} from '@books/core/schemas';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { notFound, unauthorized } from '../../errors.js';
import { listLiveSessions, revokeUserSessions, rotateRefreshToken } from '../../services/sessions-store.js';
import { findUserById, toUser } from '../../services/users-store.js';
import { signAccessToken } from './tokens.js';

/**
 * How long after its rotation a refresh token presented again is taken for the loser of a race
 * (two tabs refreshing at once, a client retrying a request whose answer it lost) rather than for
 * a stolen copy. RFC 9700 §4.14 allows such a grace. Longer spares more honest clients a needless
 * logout; shorter gives an attacker who replays a token at once fewer chances to go unnoticed (and
 * within the grace the replay is still refused, only without revoking the session).
 */
export const REFRESH_RACE_GRACE_MS = 5000;

export interface SessionRoutesOptions {
  /** Tests shorten the grace to check reuse detection without waiting it out. */
  refreshRaceGraceMs?: number;
}

const LiveSessionsSchema = Type.Array(SessionSchema);

const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (app, opts) => {
  const { config } = app;
  const authLimit = { rateLimit: { max: config.rateLimit.authMax, timeWindow: config.rateLimit.windowMs } };
  const raceGraceMs = opts.refreshRaceGraceMs ?? REFRESH_RACE_GRACE_MS;
  const tokenLifetimeMs = config.jwt.expiresInMs;
  const authed = { 401: ErrorResponseSchema };

  app.post(
    '/refresh',
    {
      config: authLimit,
      schema: {
        tags: ['auth'],
        summary: 'Spend a refresh token for a new access token and a new refresh token',
        description:
          'The refresh token presented stops working. Presented again after that, it ends its whole session (reuse detection, RFC 9700 §4.14).',
        body: RefreshBodySchema,
        response: { 200: RefreshResponseSchema, 400: ErrorResponseSchema, 401: ErrorResponseSchema, 429: ErrorResponseSchema },
      },
    },
    async (request) => {
      const outcome = await rotateRefreshToken(app.db, request.body.refreshToken, { raceGraceMs, tokenLifetimeMs });
      if (!outcome.ok) {
        if (outcome.reason === 'reused') {
          request.log.warn('a rotated refresh token was presented again: its session is revoked');
          await app.identities.heard(outcome.seq);
        }
        throw unauthorized(
          outcome.reason === 'unknown' || outcome.reason === 'raced'
            ? 'The refresh token is invalid or already used'
            : 'This session has ended; log in again',
        );
      }
      const row = await findUserById(app.db, outcome.userId);
      if (!row) throw unauthorized('The account behind this token no longer exists');
      return {
        success: true as const,
        message: 'Refreshed',
        token: signAccessToken(app, toUser(row, config.adminEmails), outcome.sessionId),
        refreshToken: outcome.refreshToken,
        expiresIn: config.jwt.expiresIn,
      };
    },
  );

  const endSessions = async (userId: string, scope: { onlySessionId?: string }, reason: string) => {
    const ended = await app.db.transaction((tx) => revokeUserSessions(tx, userId, { ...scope, reason, tokenLifetimeMs }));
    await app.identities.heard(ended.seq);
    return ended.sessionIds;
  };

  app.post(
    '/logout',
    {
      preParsing: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: "End this token's session: its access and refresh tokens stop working at once",
        security: [{ bearerAuth: [] }],
        response: { 204: { type: 'null', description: 'Logged out' }, ...authed },
      },
    },
    async (request, reply) => {
      await endSessions(request.identity!.id, { onlySessionId: request.sessionId! }, 'logout');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/logout-all',
    {
      preParsing: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'End every session of the account, this one included',
        security: [{ bearerAuth: [] }],
        response: { 204: { type: 'null', description: 'Logged out everywhere' }, ...authed },
      },
    },
    async (request, reply) => {
      await endSessions(request.identity!.id, {}, 'logout_all');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/sessions',
    {
      preParsing: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: "The account's live sessions (signed-in devices), newest first",
        security: [{ bearerAuth: [] }],
        response: { 200: SuccessEnvelope(LiveSessionsSchema), ...authed },
      },
    },
    async (request) => {
      const rows = await listLiveSessions(app.db, request.identity!.id);
      return {
        success: true as const,
        data: rows.map((s) => ({
          id: s.id,
          createdAt: s.createdAt.toISOString(),
          lastUsedAt: s.lastUsedAt.toISOString(),
          userAgent: s.userAgent,
          current: s.id === request.sessionId,
        })),
      };
    },
  );

  app.delete(
    '/sessions/:id',
    {
      preParsing: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'End one of the account’s sessions',
        security: [{ bearerAuth: [] }],
        params: IdParamsSchema,
        response: { 204: { type: 'null', description: 'Ended' }, 400: ErrorResponseSchema, 404: ErrorResponseSchema, ...authed },
      },
    },
    async (request, reply) => {
      const ended = await endSessions(request.identity!.id, { onlySessionId: request.params.id }, 'ended_by_user');
      // Another account's session is as unknown as one that never existed.
      if (ended.length === 0) throw notFound('Live session');
      return reply.code(204).send(null);
    },
  );
};

export default sessionRoutes;
