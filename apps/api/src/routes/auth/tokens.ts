// The pair a sign-in or a refresh hands out: a short-lived access token naming its session, and
// the session's next refresh token.
import type { Role } from '@books/core/schemas';
import type { FastifyInstance } from 'fastify';
import { createSession } from '../../services/sessions-store.js';

export const signAccessToken = (app: FastifyInstance, user: { id: string; role: Role }, sessionId: string) =>
  app.jwt.sign({ sub: user.id, sid: sessionId, role: user.role });

/** Opens a session for the device the request came from; its user agent is kept for GET /auth/sessions. */
export async function openSession(app: FastifyInstance, user: { id: string; role: Role }, userAgent: string | undefined) {
  const { sessionId, refreshToken } = await createSession(app.db, {
    userId: user.id,
    userAgent,
    ttlMs: app.config.refreshTokenTtlMs,
  });
  return { token: signAccessToken(app, user, sessionId), refreshToken, expiresIn: app.config.jwt.expiresIn };
}
