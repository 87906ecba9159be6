// What a password change or reset does to the account's sessions, and what verifying the address
// does to its role: all at once, with the access tokens already handed out.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ApiHarness, latestAccountMail, openStores, type QueueStores, queuedAccountMails, signup, startApi } from './helpers.js';

let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  h = await startApi('password-sessions', { ADMIN_EMAILS: 'chief@example.com' });
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const PASSWORD = 'correct horse battery staple';
const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  h.app.inject({ method: 'POST', url, payload: payload as object, headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const me = async (token: string) => (await h.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) })).statusCode;
const refresh = async (refreshToken: string) => (await post('/auth/refresh', { refreshToken })).statusCode;

/** A user signed in on three devices: the signup's session and two logins. */
async function threeDevices() {
  const username = `devices_${randomBytes(3).toString('hex')}`;
  const email = `${username}@example.com`;
  const first = await signup(h.app, { username, email, password: PASSWORD });
  const logins = [];
  for (let n = 0; n < 2; n++) {
    const res = await post('/auth/login', { email, password: PASSWORD });
    expect(res.statusCode).toBe(200);
    logins.push(res.json() as { token: string; refreshToken: string });
  }
  return { email, devices: [{ token: first.token, refreshToken: first.refreshToken }, ...logins] };
}

it('a password change ends every other session at once and keeps the one that made it', async () => {
  const { email, devices } = await threeDevices();
  const [self, ...others] = devices as [{ token: string; refreshToken: string }, ...{ token: string; refreshToken: string }[]];
  for (const device of devices) expect(await me(device.token)).toBe(200);

  const changed = await post(
    '/auth/change-password',
    { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' },
    bearer(self.token),
  );
  expect(changed.statusCode).toBe(200);

  for (const other of others) {
    expect(await me(other.token)).toBe(401);
    expect(await refresh(other.refreshToken)).toBe(401);
  }
  expect(await me(self.token)).toBe(200);
  expect(await refresh(self.refreshToken)).toBe(200);
  const sessions = await h.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(self.token) });
  expect(sessions.json().data).toHaveLength(1);
  expect((await post('/auth/login', { email, password: PASSWORD })).statusCode).toBe(401);
});

it('a password reset ends every session, and the new password works', async () => {
  const { email, devices } = await threeDevices();
  const before = (await queuedAccountMails(stores)).length;
  expect((await post('/auth/forgot-password', { email })).statusCode).toBe(202);
  for (let i = 0; i < 100 && (await queuedAccountMails(stores)).length === before; i++) await new Promise((r) => setTimeout(r, 20));
  const { code } = await latestAccountMail(stores, email, 'password-reset');

  const reset = await post('/auth/reset-password', { email, code, newPassword: 'reset to something long' });
  expect(reset.statusCode).toBe(200);
  for (const device of devices) {
    expect(await me(device.token)).toBe(401);
    expect(await refresh(device.refreshToken)).toBe(401);
  }
  expect((await post('/auth/login', { email, password: 'reset to something long' })).statusCode).toBe(200);
});

it('verifying an address in ADMIN_EMAILS makes the very next request admin, with the token already held', async () => {
  const chief = await signup(h.app, { username: 'chief', email: 'chief@example.com', password: PASSWORD });
  const stats = async () => (await h.app.inject({ method: 'GET', url: '/admin/stats', headers: bearer(chief.token) })).statusCode;
  // Cached as a plain user by this request…
  expect(await stats()).toBe(403);
  const { link } = await latestAccountMail(stores, 'chief@example.com', 'verify-email');
  const verified = await h.app.inject({ method: 'GET', url: new URL(link).pathname });
  expect(verified.statusCode).toBe(200);
  expect(verified.json().data).toMatchObject({ emailVerified: true, role: 'admin' });
  // …and admin at once after the verification, not after the cache expires.
  expect(await stats()).toBe(200);
});
