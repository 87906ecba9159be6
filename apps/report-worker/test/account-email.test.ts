// The account email templates: whatever the username, it reaches the HTML only as escaped text,
// in the places a plain name would, and the page around it is unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { composeAccountEmail } from '../src/mail/account-email.js';
import { escapeHtml } from '../src/mail/escape-html.js';

const context = { companyName: 'Acme Books Ltd', timeZone: 'Europe/Paris' };
const queuedAt = '2026-11-25T21:00:00.000Z';
const base = { id: '0b6f5c6e-8f0a-4d59-9a3e-3f1c2b7d9e10', to: 'reader@example.com', queuedAt };
const mails = (username: string) => [
  {
    ...base,
    kind: 'verify-email' as const,
    username,
    link: 'https://books.example.com/auth/verify-email/tok_123',
    expiresAt: '2026-11-26T21:00:00.000Z',
  },
  { ...base, kind: 'password-reset' as const, username, code: '042917', expiresAt: '2026-11-25T21:10:00.000Z' },
];

// Strings made of the characters that mean something in HTML; the leading "<" makes the escaped
// form (starting "&lt;") impossible to confuse with any text of the template itself.
const hostileUsername = fc
  .string({
    unit: fc.constantFrom('<', '>', '&', '"', "'", '/', '=', ' ', 'a', 'é', ';', '#', '`', 'script', 'on'),
    minLength: 0,
    maxLength: 60,
  })
  .map((s) => `<${s}`);

describe('account email templates', () => {
  it('put a hostile username into the HTML only escaped, at exactly the places of a plain one', () => {
    const plain = 'PLAINUSERNAME';
    fc.assert(
      fc.property(hostileUsername, (username) => {
        const escaped = escapeHtml(username);
        mails(username).forEach((mail, i) => {
          const hostile = composeAccountEmail(mail, context);
          const reference = composeAccountEmail(mails(plain)[i]!, context);
          expect(hostile.html.split(escaped).join('\u0000')).toBe(reference.html.split(plain).join('\u0000'));
          expect(hostile.html.split(escaped).length).toBeGreaterThan(1);
          expect(hostile.text).toContain(`Hello ${username},`);
          expect(hostile.subject).toBe(reference.subject);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('write the expiry in REPORT_TIMEZONE and the validity the link or code was given', () => {
    const [verify, reset] = mails('alice').map((mail) => composeAccountEmail(mail, context));
    expect(verify!.text).toContain('for 24 hours, until November 26, 2026 at 10:00 PM GMT+1');
    expect(reset!.text).toContain('valid for 10 minutes (until November 25, 2026 at 10:10 PM GMT+1)');
    expect(reset!.html).toContain('042917');
    expect(verify!.html).toContain('href="https://books.example.com/auth/verify-email/tok_123"');
  });
});
