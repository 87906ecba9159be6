// Email verification: the link signup queues, its single use and expiry, the throttled resend, and
// the admin role that only a verified address in ADMIN_EMAILS gets (and loses with the config).
import { createHash } from 'node:crypto';
import { loadApiConfig } from '@books/core/config';
import { freePort } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { type ApiHarness, latestAccountMail, openStores, type QueueStores, queuedAccountMails, signup, startApi } from './helpers.js';

const PUBLIC_BASE_URL = 'https://books.example.org/api';
let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  h = await startApi('email-verification', { ADMIN_EMAILS: 'boss@example.com,chief@example.com', PUBLIC_BASE_URL: `${PUBLIC_BASE_URL}/` });
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const get = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url, headers });
const resend = (headers: Record<string, string>) => h.app.inject({ method: 'POST', url: '/auth/verify-email/resend', headers });
/** The path of a link, which is what a client requests of the API behind PUBLIC_BASE_URL. */
const pathOf = (link: string) => link.slice(PUBLIC_BASE_URL.length);
const tokenOf = (link: string) => link.split('/').at(-1)!;
/** Moves an account's links back in time, as if they had been sent `ms` earlier. */
const ageLinks = (userId: string, ms: number) =>
  stores.handle.sql`update email_verifications set created_at = created_at - ${`${ms} milliseconds`}::interval where user_id = ${userId}`;

describe('signup', () => {
  it('queues a verification email with a 24-hour single-use link, and stores only its SHA-256', async () => {
    const before = Date.now();
    const user = await signup(h.app);
    const me = (await get('/auth/me', user.auth)).json().data;
    expect(me.emailVerified).toBe(false);

    const mail = await latestAccountMail(stores, user.email, 'verify-email');
    expect(mail).toMatchObject({ kind: 'verify-email', to: user.email, username: user.username });
    expect(mail.link).toMatch(new RegExp(`^${PUBLIC_BASE_URL}/auth/verify-email/[A-Za-z0-9_-]{43}$`));
    const expiresAt = Date.parse(mail.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 24 * 3_600_000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000 + 1000);

    const token = tokenOf(mail.link);
    const rows = await stores.handle.sql`select token_hash, email from email_verifications where user_id = ${user.id}`;
    expect(rows).toEqual([{ token_hash: createHash('sha256').update(token).digest('hex'), email: user.email }]);
  });

  it('still succeeds when Redis is unreachable; the link can be asked for again later', async () => {
    const config = loadApiConfig({
      ...h.ctx.env,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      REDIS_START_WAIT_SECONDS: '1',
      CACHE_START_SYNC_SECONDS: '1',
      REDIS_CONNECT_TIMEOUT_MS: '200',
      REDIS_COMMAND_TIMEOUT_MS: '200',
    });
    const offline = await buildApp(config, { logger: false });
    try {
      await offline.ready();
      const user = await signup(offline);
      const [link] = await stores.handle.sql`select 1 from email_verifications where user_id = ${user.id}`;
      expect(link).toBeDefined();
      expect((await queuedAccountMails(stores)).filter((m) => m.to === user.email)).toEqual([]);
    } finally {
      await offline.close();
    }
  });
});

describe('GET /auth/verify-email/:token', () => {
  it('verifies the address once; the same link again is 410 VERIFICATION_TOKEN_USED', async () => {
    const user = await signup(h.app);
    const mail = await latestAccountMail(stores, user.email, 'verify-email');
    const first = await get(pathOf(mail.link));
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ success: true, data: { id: user.id, emailVerified: true, role: 'user' } });
    expect((await get('/auth/me', user.auth)).json().data.emailVerified).toBe(true);

    const again = await get(pathOf(mail.link));
    expect(again.statusCode).toBe(410);
    expect(again.json()).toMatchObject({ success: false, code: 'VERIFICATION_TOKEN_USED' });
  });

  it('two clicks racing verify once: one 200, one 410', async () => {
    const user = await signup(h.app);
    const mail = await latestAccountMail(stores, user.email, 'verify-email');
    const answers = await Promise.all([get(pathOf(mail.link)), get(pathOf(mail.link))]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 410]);
  });

  it('refuses an expired link with 410 VERIFICATION_TOKEN_EXPIRED and leaves the address unverified', async () => {
    const user = await signup(h.app);
    const mail = await latestAccountMail(stores, user.email, 'verify-email');
    await stores.handle.sql`update email_verifications set expires_at = now() - interval '1 second' where user_id = ${user.id}`;
    const res = await get(pathOf(mail.link));
    expect(res.statusCode).toBe(410);
    expect(res.json()).toMatchObject({ success: false, code: 'VERIFICATION_TOKEN_EXPIRED' });
    expect((await get('/auth/me', user.auth)).json().data.emailVerified).toBe(false);
  });

  it('refuses an unknown token with 404 and a malformed one with 400', async () => {
    const unknown = await get(`/auth/verify-email/${'A'.repeat(43)}`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ success: false, code: 'VERIFICATION_TOKEN_UNKNOWN' });
    const malformed = await get('/auth/verify-email/short');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().code).toBe('VALIDATION_ERROR');
  });

  it('does not verify an address the account no longer has (409 VERIFICATION_EMAIL_CHANGED)', async () => {
    const user = await signup(h.app);
    const mail = await latestAccountMail(stores, user.email, 'verify-email');
    await stores.handle.sql`update users set email = ${`moved-${user.email}`} where id = ${user.id}`;
    const res = await get(pathOf(mail.link));
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('VERIFICATION_EMAIL_CHANGED');
    const [row] = await stores.handle.sql`select email_verified_at from users where id = ${user.id}`;
    expect(row?.email_verified_at).toBeNull();
  });
});

describe('POST /auth/verify-email/resend', () => {
  it('needs a token', async () => {
    expect((await resend({})).statusCode).toBe(401);
  });

  it('answers 429 with Retry-After within a minute of the last link, then sends a new working link', async () => {
    const user = await signup(h.app);
    const first = await latestAccountMail(stores, user.email, 'verify-email');
    const throttled = await resend(user.auth);
    expect(throttled.statusCode).toBe(429);
    expect(throttled.json()).toMatchObject({ success: false, code: 'VERIFICATION_RESEND_THROTTLED' });
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    await ageLinks(user.id, 61_000);
    const sent = await resend(user.auth);
    expect(sent.statusCode).toBe(202);
    expect(sent.json()).toMatchObject({ success: true, message: expect.any(String) });
    const second = await latestAccountMail(stores, user.email, 'verify-email');
    expect(second.id).not.toBe(first.id);
    expect(second.link).not.toBe(first.link);
    expect((await get(pathOf(second.link))).statusCode).toBe(200);

    const verified = await resend(user.auth);
    expect(verified.statusCode).toBe(409);
    expect(verified.json().code).toBe('EMAIL_ALREADY_VERIFIED');
  });

  it('allows at most five links an hour, saying when the next one is possible', async () => {
    const user = await signup(h.app);
    for (let sent = 1; sent < 5; sent++) {
      await ageLinks(user.id, 61_000);
      expect((await resend(user.auth)).statusCode).toBe(202);
    }
    await ageLinks(user.id, 61_000);
    const res = await resend(user.auth);
    expect(res.statusCode).toBe(429);
    // The oldest of the five is 5 × 61 s old: the hour frees up in about 55 minutes.
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(3000);
    expect(retryAfter).toBeLessThanOrEqual(3600 - 5 * 61 + 1);
    expect((await queuedAccountMails(stores)).filter((m) => m.to === user.email)).toHaveLength(5);
  });

  it('lets only one of two concurrent resends through', async () => {
    const user = await signup(h.app);
    await ageLinks(user.id, 61_000);
    const answers = await Promise.all([resend(user.auth), resend(user.auth)]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([202, 429]);
  });
});

describe('the admin role', () => {
  const stats = (auth: Record<string, string>, app = h.app) => app.inject({ method: 'GET', url: '/admin/stats', headers: auth });

  it('is granted to an ADMIN_EMAILS address only once verified, at once despite the cached identity', async () => {
    const boss = await signup(h.app, { email: 'Boss@Example.com' });
    const [stored] = await stores.handle.sql`select role from users where id = ${boss.id}`;
    expect(stored?.role).toBe('user');
    expect((await get('/auth/me', boss.auth)).json().data).toMatchObject({ role: 'user', emailVerified: false });
    expect((await stats(boss.auth)).statusCode).toBe(403);

    const mail = await latestAccountMail(stores, boss.email, 'verify-email');
    expect((await get(pathOf(mail.link))).json().data).toMatchObject({ role: 'admin', emailVerified: true });
    expect((await get('/auth/me', boss.auth)).json().data.role).toBe('admin');
    expect((await stats(boss.auth)).statusCode).toBe(200);
  });

  it('is lost at once on a replica whose ADMIN_EMAILS no longer lists the address', async () => {
    const account = await signup(h.app, { email: 'chief@example.com' });
    const mail = await latestAccountMail(stores, account.email, 'verify-email');
    expect((await get(pathOf(mail.link))).statusCode).toBe(200);
    expect((await stats(account.auth)).statusCode).toBe(200);

    // Same database and Redis namespace, new config: the identity the first replica cached in Redis says admin.
    const replica = await buildApp(loadApiConfig({ ...h.ctx.env, ADMIN_EMAILS: 'boss@example.com' }), { logger: false });
    try {
      await replica.ready();
      expect((await stats(account.auth, replica)).statusCode).toBe(403);
      expect((await replica.inject({ method: 'GET', url: '/auth/me', headers: account.auth })).json().data).toMatchObject({
        role: 'user',
        emailVerified: true,
      });
      // The replica with the old config still says admin: the role follows each replica's own config.
      expect((await stats(account.auth)).statusCode).toBe(200);
    } finally {
      await replica.close();
    }
  });
});
