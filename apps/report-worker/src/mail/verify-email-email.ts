// The email that proves an address: the single-use link and when it stops working.
import type { AccountMail } from '@books/core/schemas';
import { type AccountEmailContext, accountEmailHtml, type ComposedEmail, formatExpiry, validityOf } from './account-email-layout.js';
import { escapeHtml } from './escape-html.js';

export const VERIFY_EMAIL_SUBJECT = 'Confirm your email address';

export function verifyEmailEmail(mail: Extract<AccountMail, { kind: 'verify-email' }>, context: AccountEmailContext): ComposedEmail {
  const validity = validityOf(mail);
  const until = formatExpiry(mail.expiresAt, context.timeZone);
  const link = escapeHtml(mail.link);
  const text = [
    `Hello ${mail.username},`,
    '',
    `Please confirm that this is your email address by opening this link:`,
    '',
    mail.link,
    '',
    `The link works once and for ${validity}, until ${until}. After that, ask for a new one.`,
    '',
    'If you did not create an account, ignore this email: nothing happens unless the link is opened.',
    '',
    context.companyName,
  ].join('\n');
  const html = accountEmailHtml(
    VERIFY_EMAIL_SUBJECT,
    context.companyName,
    `<p style="margin:0 0 16px;">Hello ${escapeHtml(mail.username)},</p>
<p style="margin:0 0 16px;">Please confirm that this is your email address.</p>
<p style="margin:0 0 16px;"><a href="${link}" style="display:inline-block;padding:10px 18px;background:#1e3a5f;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:bold;">Confirm my email address</a></p>
<p style="margin:0 0 16px;font-size:13px;color:#555;">Or paste this link into your browser:<br><span style="word-break:break-all;">${link}</span></p>
<p style="margin:0 0 16px;">The link works once and for ${escapeHtml(validity)}, until ${escapeHtml(until)}. After that, ask for a new one.</p>
<p style="margin:0;font-size:13px;color:#555;">If you did not create an account, ignore this email: nothing happens unless the link is opened.</p>`,
  );
  return { subject: VERIFY_EMAIL_SUBJECT, text, html };
}
