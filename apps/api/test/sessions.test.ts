// Sessions and tokens as a client sees them: refresh rotates, a rotated token presented again after
// the race grace ends its session, two refreshes racing with one token give one winner whose session
// keeps working, and logout, logout-all and ending a session refuse the tokens at once.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, signup, startApi, type TestUser } from './helpers.js';

// Short, so that reuse detection can be checked without waiting out the 5 s of production.
const GRACE_MS = 300;

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi('sessions', {}, { refreshRaceGraceMs: GRACE_MS });
});
afterAll(() => h?.close());

const refresh = (refreshToken: unknown) => h.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
const me = (token: string) => h.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
const authed = (method: 'GET' | 'POST' | 'DELETE', url: string, token: string) =>
  h.app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function login(user: TestUser, userAgent = 'vitest') {
  const res = await h.app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'user-agent': userAgent },
    payload: { email: user.email, password: user.password },
  });
  expect(res.statusCode).toBe(200);
  const body = res.json();
  expect(body).toMatchObject({ token: expect.any(String), refreshToken: expect.any(String), expiresIn: '15m' });
  return { token: body.token as string, refreshToken: body.refreshToken as string };
}

describe('POST /auth/refresh', () => {
  it('gives a new access token and a new refresh token; the old refresh token stops working', async () => {
    const user = await signup(h.app);
    const res = await refresh(user.refreshToken);
    expect(res.statusCode).toBe(200);
    const next = res.json();
    expect(next).toMatchObject({ success: true, token: expect.any(String), refreshToken: expect.any(String), expiresIn: '15m' });
    expect(next.refreshToken).not.toBe(user.refreshToken);
    expect((await me(next.token)).json().data.id).toBe(user.id);

    const again = await refresh(user.refreshToken);
    expect(again.statusCode).toBe(401);
    expect(again.json()).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    // Refused within the grace, but not taken for theft: the session goes on.
    expect((await refresh(next.refreshToken)).statusCode).toBe(200);
  });

  it('refuses an unknown token with 401 and a malformed body with 400', async () => {
    expect((await refresh('A'.repeat(43))).statusCode).toBe(401);
    for (const payload of [{}, { refreshToken: '' }, { refreshToken: 42 }, { refreshToken: 'has spaces' }]) {
      const res = await h.app.inject({ method: 'POST', url: '/auth/refresh', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
    }
  });

  it('revokes the whole session when a rotated token comes back after the grace (reuse detection)', async () => {
    const user = await signup(h.app);
    const other = await login(user);
    const rotated = (await refresh(user.refreshToken)).json();
    expect((await me(rotated.token)).statusCode).toBe(200);
    await sleep(GRACE_MS + 100);

    const reuse = await refresh(user.refreshToken);
    expect(reuse.statusCode).toBe(401);
    // The session is over: its access tokens (old and new) and its newest refresh token are refused.
    expect((await me(rotated.token)).statusCode).toBe(401);
    expect((await me(user.token)).json().error).toMatch(/session has ended/);
    expect((await refresh(rotated.refreshToken)).statusCode).toBe(401);
    const [row] = await h.app.sql`select revoked_reason from sessions where id = ${sessionOf(user.token)}`;
    expect(row?.revoked_reason).toBe('refresh_token_reuse');
    // The account's other session is untouched.
    expect((await me(other.token)).statusCode).toBe(200);
    expect((await refresh(other.refreshToken)).statusCode).toBe(200);
  });

  it('lets exactly one of many concurrent refreshes with the same token win, and keeps its session working', async () => {
    for (let round = 0; round < 3; round++) {
      const user = await signup(h.app);
      const answers = await Promise.all(Array.from({ length: 12 }, () => refresh(user.refreshToken)));
      const winners = answers.filter((res) => res.statusCode === 200);
      expect(winners).toHaveLength(1);
      expect(answers.filter((res) => res.statusCode === 401)).toHaveLength(11);
      const won = winners[0]!.json();
      expect((await me(won.token)).statusCode).toBe(200);
      expect((await me(user.token)).statusCode).toBe(200);
      const next = await refresh(won.refreshToken);
      expect(next.statusCode).toBe(200);
      expect((await me(next.json().token)).statusCode).toBe(200);
    }
  });
});

/** The session a token names (claim `sid`). */
const sessionOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).sid;

describe('logout and the sessions routes', () => {
  it('need a valid access token', async () => {
    for (const [method, url] of [
      ['POST', '/auth/logout'],
      ['POST', '/auth/logout-all'],
      ['GET', '/auth/sessions'],
      ['DELETE', `/auth/sessions/${randomUUID()}`],
    ] as const) {
      expect((await h.app.inject({ method, url })).statusCode, `${method} ${url}`).toBe(401);
      expect((await authed(method, url, 'not.a.token')).statusCode, `${method} ${url}`).toBe(401);
    }
  });

  it('logout ends this session only: its access and refresh tokens are refused at once', async () => {
    const user = await signup(h.app);
    const other = await login(user);
    expect((await authed('POST', '/auth/logout', user.token)).statusCode).toBe(204);
    const after = await me(user.token);
    expect(after.statusCode).toBe(401);
    expect(after.json().error).toMatch(/session has ended/);
    expect((await refresh(user.refreshToken)).statusCode).toBe(401);
    expect((await authed('GET', '/books', user.token)).statusCode).toBe(401);
    expect((await me(other.token)).statusCode).toBe(200);
  });

  it('lists the live sessions with their user agent and which one is current', async () => {
    const user = await signup(h.app);
    const phone = await login(user, 'Phone/1.0');
    const laptop = await login(user, `Laptop/${'x'.repeat(600)}`);
    const res = await authed('GET', '/auth/sessions', phone.token);
    expect(res.statusCode).toBe(200);
    const list = res.json().data as { id: string; userAgent: string | null; current: boolean; createdAt: string; lastUsedAt: string }[];
    expect(list).toHaveLength(3);
    expect(list.filter((s) => s.current).map((s) => s.id)).toEqual([sessionOf(phone.token)]);
    expect(list.find((s) => s.id === sessionOf(phone.token))?.userAgent).toBe('Phone/1.0');
    // Truncated: a header is the client's to make as long as it likes.
    expect(list.find((s) => s.id === sessionOf(laptop.token))?.userAgent).toHaveLength(256);
    for (const s of list) expect(Date.parse(s.lastUsedAt)).toBeGreaterThanOrEqual(Date.parse(s.createdAt));

    expect((await authed('POST', '/auth/logout', laptop.token)).statusCode).toBe(204);
    const left = (await authed('GET', '/auth/sessions', phone.token)).json().data.map((s: { id: string }) => s.id);
    expect(left).not.toContain(sessionOf(laptop.token));
    expect(left).toHaveLength(2);
  });

  it('DELETE /auth/sessions/:id ends one of the caller’s sessions, and 404s for anyone else’s or an unknown one', async () => {
    const user = await signup(h.app);
    const stranger = await signup(h.app);
    const tablet = await login(user);
    expect((await authed('DELETE', `/auth/sessions/${sessionOf(stranger.token)}`, user.token)).statusCode).toBe(404);
    expect((await me(stranger.token)).statusCode).toBe(200);
    expect((await authed('DELETE', `/auth/sessions/${randomUUID()}`, user.token)).statusCode).toBe(404);
    const bad = await authed('DELETE', '/auth/sessions/not-a-uuid', user.token);
    expect(bad.statusCode).toBe(400);

    expect((await authed('DELETE', `/auth/sessions/${sessionOf(tablet.token)}`, user.token)).statusCode).toBe(204);
    expect((await me(tablet.token)).statusCode).toBe(401);
    expect((await refresh(tablet.refreshToken)).statusCode).toBe(401);
    expect((await me(user.token)).statusCode).toBe(200);
    // Already ended: nothing live by that id.
    expect((await authed('DELETE', `/auth/sessions/${sessionOf(tablet.token)}`, user.token)).statusCode).toBe(404);
  });

  it('logout-all ends every session of the account and records one auth event', async () => {
    const user = await signup(h.app);
    const others = [await login(user), await login(user)];
    const [before] = await h.app.sql`select count(*)::int as n from auth_events where user_id = ${user.id}`;
    expect((await authed('POST', '/auth/logout-all', user.token)).statusCode).toBe(204);
    for (const session of [{ token: user.token, refreshToken: user.refreshToken }, ...others]) {
      expect((await me(session.token)).statusCode).toBe(401);
      expect((await refresh(session.refreshToken)).statusCode).toBe(401);
    }
    const [after] = await h.app.sql`select count(*)::int as n from auth_events where user_id = ${user.id}`;
    expect(after!.n - before!.n).toBe(1);
    // Signing in again works: a new session.
    const again = await login(user);
    expect((await me(again.token)).statusCode).toBe(200);
  });
});
