import { createHmac } from 'node:crypto';
import { verifyEmail } from '@books/testing';
import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { type ApiHarness, signup, startApi } from './helpers.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi('auth', { ADMIN_EMAILS: 'Boss@Example.com' });
});
afterAll(() => h?.close());

/** The session a token names (claim `sid`), read without verifying: the API signed it. */
const sessionOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).sid;

const me = (authorization: string) => h.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization } });

describe('signup', () => {
  it('creates an account and answers with a token at the top level and the user in data', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { username: 'alice_reader', email: 'alice@example.com', password: 'securepass123' },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      success: true,
      token: expect.any(String),
      refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expiresIn: '15m',
      data: { username: 'alice_reader', email: 'alice@example.com', role: 'user' },
    });
    expect(res.body).not.toContain('securepass123');
    expect(res.body).not.toMatch(/password/i);
    const who = await me(`Bearer ${body.token}`);
    expect(who.statusCode).toBe(200);
    expect(who.json().data.id).toBe(body.data.id);
  });

  it('refuses a taken username or email (case-insensitively) with 409', async () => {
    await signup(h.app, { username: 'taken_name', email: 'first@example.com' });
    const sameName = await h.app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { username: 'taken_name', email: 'other@example.com', password: 'long enough pw' },
    });
    expect(sameName.statusCode).toBe(409);
    expect(sameName.json()).toMatchObject({ success: false, code: 'CONFLICT', error: expect.stringMatching(/username/) });
    const sameEmail = await h.app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { username: 'another', email: 'FIRST@example.com', password: 'long enough pw' },
    });
    expect(sameEmail.statusCode).toBe(409);
    expect(sameEmail.json().error).toMatch(/email/);
  });

  it('takes passwords of 8 to 128 characters of any kind, and nothing else', async () => {
    const attempt = (password: string) =>
      h.app.inject({
        method: 'POST',
        url: '/auth/signup',
        payload: {
          username: `p${password.length}_${Math.random().toString(36).slice(2, 8)}`,
          email: `${Math.random().toString(36).slice(2)}@example.com`,
          password,
        },
      });
    expect((await attempt('short7!')).statusCode).toBe(400);
    expect((await attempt('a'.repeat(129))).statusCode).toBe(400);
    expect((await attempt('alllowercase')).statusCode).toBe(201);
    expect((await attempt('ü'.repeat(128))).statusCode).toBe(201);
    const bad = await attempt('short');
    expect(bad.json()).toMatchObject({
      success: false,
      code: 'VALIDATION_ERROR',
      details: [expect.objectContaining({ path: 'body:/password' })],
    });
  });

  it('rejects a malformed email and a missing field with a validation error', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { username: 'bob', email: 'not-an-email', password: 'long enough pw' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION_ERROR');
    const missing = await h.app.inject({ method: 'POST', url: '/auth/signup', payload: { username: 'bob2', password: 'long enough pw' } });
    expect(missing.statusCode).toBe(400);
  });

  it('grants the admin role to the emails in ADMIN_EMAILS once the address is verified', async () => {
    const boss = await signup(h.app, { email: 'boss@example.com' });
    await verifyEmail(h.ctx.database.url, boss.id);
    expect((await me(boss.auth.authorization)).json().data.role).toBe('admin');
  });
});

describe('login', () => {
  it('answers like signup, and the same 401 for an unknown email and a wrong password', async () => {
    const user = await signup(h.app);
    const ok = await h.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: user.email.toUpperCase(), password: user.password },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ success: true, token: expect.any(String), data: { id: user.id, email: user.email } });

    const wrong = await h.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: 'not the password' } });
    const unknown = await h.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'nobody@example.com', password: 'not the password' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
    expect(wrong.json()).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
  });
});

describe('tokens', () => {
  const sign = (key: string, claims: Record<string, unknown>, options: Record<string, unknown> = {}) =>
    createSigner({ key, algorithm: 'HS256', ...options })(claims);

  it('carries the user id as subject, its session, the role as a claim, and a 15-minute expiry', async () => {
    const user = await signup(h.app);
    const claims = h.app.jwt.decode<{ sub: string; sid: string; role: string; exp: number; iat: number }>(user.token);
    expect(claims).toMatchObject({ sub: user.id, sid: expect.stringMatching(/^[0-9a-f-]{36}$/), role: 'user' });
    expect(claims!.exp - claims!.iat).toBe(15 * 60);
  });

  it('refuses no token, an expired one, one signed with another key and one with another algorithm', async () => {
    const user = await signup(h.app);
    expect((await h.app.inject({ method: 'GET', url: '/auth/me' })).statusCode).toBe(401);
    for (const malformed of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', user.token]) {
      const res = await me(malformed);
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toMatch(/Authorization: Bearer/);
    }
    const sid = sessionOf(user.token);
    const expired = sign(h.ctx.config.jwt.secret, { sub: user.id, sid, role: 'user', iat: 1_000_000, exp: 1_000_100 });
    const res = await me(`Bearer ${expired}`);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ success: false, code: 'UNAUTHORIZED', error: expect.stringMatching(/expired/) });
    const otherKey = sign('another-secret-another-secret-another-secret', { sub: user.id, sid, role: 'user' }, { expiresIn: 60_000 });
    expect((await me(`Bearer ${otherKey}`)).statusCode).toBe(401);
    const hs512 = sign(h.ctx.config.jwt.secret, { sub: user.id, sid, role: 'user' }, { algorithm: 'HS512', expiresIn: 60_000 });
    expect((await me(`Bearer ${hs512}`)).statusCode).toBe(401);
    const noExp = sign(h.ctx.config.jwt.secret, { sub: user.id, sid, role: 'user' });
    expect((await me(`Bearer ${noExp}`)).statusCode).toBe(401);
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: user.id, sid, exp: 9_999_999_999 })).toString('base64url')}.`;
    expect((await me(`Bearer ${unsigned}`)).statusCode).toBe(401);
  });

  it('refuses a correctly signed token whose claims do not have the types we sign', async () => {
    const user = await signup(h.app);
    const now = Math.floor(Date.now() / 1000);
    const good = { sub: user.id, sid: sessionOf(user.token), role: 'user', iat: now, exp: now + 600 };
    // Signed by hand: fast-jwt's signer refuses (or rewrites) claims of the wrong type, an attacker's would not.
    const signed = (claims: Record<string, unknown>) => {
      const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
      return `Bearer ${unsigned}.${createHmac('sha256', h.ctx.config.jwt.secret).update(unsigned).digest('base64url')}`;
    };
    // The control: the same claims with the right types are accepted.
    expect((await me(signed(good))).statusCode).toBe(200);
    for (const [what, claims] of [
      ['sub as an array holding the id', { ...good, sub: [user.id] }],
      ['sub as a number', { ...good, sub: 42 }],
      ['sub as an object', { ...good, sub: { id: user.id } }],
      ['sub as a urn:uuid', { ...good, sub: `urn:uuid:${user.id}` }],
      ['role as an array', { ...good, role: ['admin'] }],
      ['role unknown', { ...good, role: 'root' }],
      ['role missing', { sub: user.id, sid: good.sid, iat: now, exp: now + 600 }],
      ['sid as a number', { ...good, sid: 7 }],
      ['exp as a string', { ...good, exp: String(now + 600) }],
      ['iat as a string', { ...good, iat: String(now) }],
      ['iat missing', { sub: user.id, sid: good.sid, role: 'user', exp: now + 600 }],
    ] as const) {
      const res = await me(signed(claims));
      expect(res.statusCode, what).toBe(401);
      expect(res.json(), what).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    }
  });

  it('refuses a token from before sessions (no sid), asking to log in again', async () => {
    const user = await signup(h.app);
    const now = Math.floor(Date.now() / 1000);
    const old = sign(h.ctx.config.jwt.secret, { sub: user.id, role: 'user', iat: now, exp: now + 600 });
    const res = await me(`Bearer ${old}`);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'UNAUTHORIZED', error: expect.stringMatching(/log in again/) });
  });

  it('stops working as soon as the account is deleted', async () => {
    const user = await signup(h.app);
    expect((await me(user.auth.authorization)).statusCode).toBe(200);
    const del = await h.app.inject({ method: 'DELETE', url: '/auth/me', headers: user.auth });
    expect(del.statusCode).toBe(204);
    const after = await me(user.auth.authorization);
    expect(after.statusCode).toBe(401);
    expect(after.json().error).toMatch(/no longer exists/);
    expect((await h.app.inject({ method: 'GET', url: '/books', headers: user.auth })).statusCode).toBe(401);
  });

  it('stops working on every replica at once when the account is deleted on one', async () => {
    const replica = await buildApp(h.ctx.config, { logger: false });
    try {
      const user = await signup(h.app);
      const onReplica = () => replica.inject({ method: 'GET', url: '/auth/me', headers: user.auth });
      expect((await onReplica()).statusCode).toBe(200);
      expect((await h.app.inject({ method: 'DELETE', url: '/auth/me', headers: user.auth })).statusCode).toBe(204);
      await expect.poll(async () => (await onReplica()).statusCode, { timeout: 1000, interval: 20 }).toBe(401);
    } finally {
      await replica.close();
    }
  });

  it('refuses a token whose user was removed from the database directly, once no cache holds it', async () => {
    const user = await signup(h.app);
    await h.app.sql`delete from users where id = ${user.id}`;
    // A replica that has not seen this user since: no event announced this deletion.
    const replica = await buildApp(h.ctx.config, { logger: false });
    try {
      expect((await replica.inject({ method: 'GET', url: '/auth/me', headers: user.auth })).statusCode).toBe(401);
    } finally {
      await replica.close();
    }
  });
});
