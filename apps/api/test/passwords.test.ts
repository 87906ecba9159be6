// Passwords: the common-password rule, change, and the forgotten-password code (no enumeration,
// expiry, single use, five tries however concurrent).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMON_PASSWORDS } from '../src/services/common-passwords.generated.js';
import { isCommonPassword } from '../src/services/password-policy.js';
import { type ApiHarness, latestAccountMail, openStores, type QueueStores, queuedAccountMails, signup, startApi } from './helpers.js';

let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  h = await startApi('passwords');
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  h.app.inject({ method: 'POST', url, payload: payload as object, headers });
const login = async (email: string, password: string) => (await post('/auth/login', { email, password })).statusCode;
/** Asks for a code and returns it, read from the queued email. */
async function requestCode(email: string): Promise<string> {
  const before = (await queuedAccountMails(stores)).length;
  expect((await post('/auth/forgot-password', { email })).statusCode).toBe(202);
  for (let i = 0; i < 100 && (await queuedAccountMails(stores)).length === before; i++) await new Promise((r) => setTimeout(r, 20));
  return (await latestAccountMail(stores, email, 'password-reset')).code;
}
const wrongCode = (code: string, n = 1) => String((Number(code) + n) % 1_000_000).padStart(6, '0');

describe('the password rule', () => {
  const longCommon = COMMON_PASSWORDS.filter((p) => p.length >= 8 && p.length <= 128);

  it('ships the 10,000 most common passwords', () => {
    expect(COMMON_PASSWORDS).toHaveLength(10_000);
    expect(COMMON_PASSWORDS.slice(0, 3)).toEqual(['123456', 'password', '12345678']);
  });

  it('refuses a common password in any letter case, and no password for merely containing one', () => {
    fc.assert(
      fc.property(fc.constantFrom(...longCommon), fc.array(fc.boolean(), { minLength: 128, maxLength: 128 }), (password, upper) => {
        const mixed = [...password].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch)).join('');
        expect(isCommonPassword(mixed)).toBe(true);
        expect(isCommonPassword(`${mixed} and then some`)).toBe(false);
      }),
    );
  });

  it('answers 400 PASSWORD_TOO_COMMON at signup; length stays a 400 VALIDATION_ERROR', async () => {
    for (const password of ['Password1', 'ILOVEYOU', 'qwertyuiop']) {
      const res = await post('/auth/signup', {
        username: `common_${password.length}_${password[0]}`,
        email: `c${password}@example.com`,
        password,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ success: false, code: 'PASSWORD_TOO_COMMON' });
    }
    const short = await post('/auth/signup', { username: 'shorty', email: 'shorty@example.com', password: 'x'.repeat(7) });
    expect(short.json().code).toBe('VALIDATION_ERROR');
    const long = await post('/auth/signup', { username: 'longy', email: 'longy@example.com', password: 'x'.repeat(129) });
    expect(long.json().code).toBe('VALIDATION_ERROR');
  });
});

describe('POST /auth/change-password', () => {
  it('changes the password given the current one; the old one stops working', async () => {
    const user = await signup(h.app);
    const res = await post('/auth/change-password', { currentPassword: user.password, newPassword: 'a brand new passphrase' }, user.auth);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ success: true, message: 'Password changed' });
    expect(await login(user.email, user.password)).toBe(401);
    expect(await login(user.email, 'a brand new passphrase')).toBe(200);
  });

  it('refuses no token (401), a wrong current password, a common or short new one (400), and changes nothing', async () => {
    const user = await signup(h.app);
    expect((await post('/auth/change-password', { currentPassword: user.password, newPassword: 'another passphrase' })).statusCode).toBe(
      401,
    );
    const wrong = await post(
      '/auth/change-password',
      { currentPassword: 'not the password', newPassword: 'another passphrase' },
      user.auth,
    );
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().code).toBe('CURRENT_PASSWORD_INCORRECT');
    const common = await post('/auth/change-password', { currentPassword: user.password, newPassword: 'Sunshine1' }, user.auth);
    expect(common.statusCode).toBe(400);
    expect(common.json().code).toBe('PASSWORD_TOO_COMMON');
    const short = await post('/auth/change-password', { currentPassword: user.password, newPassword: 'short' }, user.auth);
    expect(short.statusCode).toBe(400);
    expect(short.json().code).toBe('VALIDATION_ERROR');
    expect(await login(user.email, user.password)).toBe(200);
  });
});

describe('POST /auth/forgot-password', () => {
  it('answers the same 202 for an unknown address as for a real one, and emails only the real one a code', async () => {
    const user = await signup(h.app);
    const known = await post('/auth/forgot-password', { email: user.email.toUpperCase() });
    const unknown = await post('/auth/forgot-password', { email: 'nobody-here@example.com' });
    expect(known.statusCode).toBe(202);
    expect(unknown.statusCode).toBe(202);
    expect(unknown.body).toBe(known.body);

    const mail = await latestAccountMail(stores, user.email, 'password-reset');
    expect(mail).toMatchObject({ kind: 'password-reset', to: user.email, username: user.username, code: expect.stringMatching(/^\d{6}$/) });
    const ttl = Date.parse(mail.expiresAt) - Date.parse(mail.queuedAt);
    expect(ttl).toBeGreaterThan(10 * 60_000 - 2000);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);
    expect((await queuedAccountMails(stores)).filter((m) => m.to === 'nobody-here@example.com')).toEqual([]);

    // Stored as an argon2 hash, never as the code.
    const [row] = await stores.handle.sql`select code_hash from password_resets where user_id = ${user.id}`;
    expect(row?.code_hash).toMatch(/^\$argon2id\$/);
    expect(row?.code_hash).not.toContain(mail.code);
  });

  it('takes as long for an unknown address as for a real one', async () => {
    const user = await signup(h.app);
    const time = async (email: string) => {
      const start = performance.now();
      await post('/auth/forgot-password', { email });
      return performance.now() - start;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 12; i++) {
      known.push(await time(user.email));
      unknown.push(await time(`ghost-${i}@example.com`));
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // Both do one argon2 hash (~50 ms) and one SQL statement; the email is queued without waiting.
    // The tolerance is wide enough for a loaded machine and far below what skipping the hash saves.
    expect(Math.abs(median(known) - median(unknown))).toBeLessThan(Math.max(15, 0.3 * median(unknown)));
  });

  it('keeps seed 002 name PUT /auth/forgot-password as an alias', async () => {
    const user = await signup(h.app);
    const res = await h.app.inject({ method: 'PUT', url: '/auth/forgot-password', payload: { email: user.email } });
    expect(res.statusCode).toBe(202);
    expect((await latestAccountMail(stores, user.email, 'password-reset')).code).toMatch(/^\d{6}$/);
  });
});

describe('POST /auth/reset-password', () => {
  const reset = (email: string, code: string, newPassword = 'my recovered passphrase', url = '/auth/reset-password') =>
    post(url, { email, code, newPassword });
  const expectInvalid = (res: Awaited<ReturnType<typeof reset>>) => {
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ success: false, code: 'RESET_CODE_INVALID' });
    return res.body;
  };

  it('sets the new password with the emailed code, once', async () => {
    const user = await signup(h.app);
    const code = await requestCode(user.email);
    const res = await reset(user.email, code);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ success: true });
    expect(await login(user.email, 'my recovered passphrase')).toBe(200);
    expect(await login(user.email, user.password)).toBe(401);
    expectInvalid(await reset(user.email, code, 'yet another passphrase'));
    expect(await login(user.email, 'my recovered passphrase')).toBe(200);
  });

  it('gives one answer for a wrong code, an unknown address and an address without a code', async () => {
    const user = await signup(h.app);
    const bystander = await signup(h.app);
    const code = await requestCode(user.email);
    const bodies = [
      expectInvalid(await reset(user.email, wrongCode(code))),
      expectInvalid(await reset('nobody-at-all@example.com', code)),
      expectInvalid(await reset(bystander.email, code)),
    ];
    expect(new Set(bodies).size).toBe(1);
  });

  it('refuses an expired code', async () => {
    const user = await signup(h.app);
    const code = await requestCode(user.email);
    await stores.handle.sql`update password_resets set expires_at = now() - interval '1 second' where user_id = ${user.id}`;
    expectInvalid(await reset(user.email, code));
    expect(await login(user.email, user.password)).toBe(200);
  });

  it('replaces the earlier code when a new one is asked for', async () => {
    const user = await signup(h.app);
    const first = await requestCode(user.email);
    let second = await requestCode(user.email);
    // One in a million: the new code may equal the old one; ask again until it differs.
    while (second === first) second = await requestCode(user.email);
    expectInvalid(await reset(user.email, first));
    expect((await reset(user.email, second)).statusCode).toBe(200);
  });

  it('voids the code after 5 wrong tries, even when 10 arrive at once; the right code is then refused', async () => {
    const user = await signup(h.app);
    const code = await requestCode(user.email);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => reset(user.email, wrongCode(code, i + 1))));
    for (const res of answers) expectInvalid(res);
    const [row] = await stores.handle.sql`select attempts from password_resets where user_id = ${user.id}`;
    expect(row?.attempts).toBe(5);
    expectInvalid(await reset(user.email, code));
    expect(await login(user.email, user.password)).toBe(200);
  });

  it('takes the right code on the fifth try', async () => {
    const user = await signup(h.app);
    const code = await requestCode(user.email);
    for (let i = 1; i <= 4; i++) expectInvalid(await reset(user.email, wrongCode(code, i)));
    expect((await reset(user.email, code)).statusCode).toBe(200);
  });

  it('refuses a common new password without using the code', async () => {
    const user = await signup(h.app);
    const code = await requestCode(user.email);
    const res = await reset(user.email, code, 'Password123');
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('PASSWORD_TOO_COMMON');
    expect((await reset(user.email, code)).statusCode).toBe(200);
  });

  it('keeps seed 002 name POST /auth/verify-otp as an alias', async () => {
    const user = await signup(h.app);
    const code = await requestCode(user.email);
    expect((await reset(user.email, code, 'my recovered passphrase', '/auth/verify-otp')).statusCode).toBe(200);
    expect(await login(user.email, 'my recovered passphrase')).toBe(200);
  });

  it('is voided by a password change', async () => {
    const user = await signup(h.app);
    const code = await requestCode(user.email);
    await post('/auth/change-password', { currentPassword: user.password, newPassword: 'changed my mind' }, user.auth);
    expectInvalid(await reset(user.email, code));
  });
});
