// The email with a password-reset code: the code, how long it is valid, and what to do if the
// reset was not asked for.
import type { AccountMail } from '@books/core/schemas';
import { type AccountEmailContext, accountEmailHtml, type ComposedEmail, formatExpiry, validityOf } from './account-email-layout.js';
import { escapeHtml } from './escape-html.js';

export const PASSWORD_RESET_SUBJECT = 'Your password reset code';

export function passwordResetEmail(mail: Extract<AccountMail, { kind: 'password-reset' }>, context: AccountEmailContext): ComposedEmail {
  const validity = validityOf(mail);
  const until = formatExpiry(mail.expiresAt, context.timeZone);
  const text = [
    `Hello ${mail.username},`,
    '',
    'Someone asked to reset the password of your account. Your code is:',
    '',
    `    ${mail.code}`,
    '',
    `It is valid for ${validity} (until ${until}) and works once.`,
    '',
    'If you did not ask for this, ignore this email: your password stays as it is. Never share this code.',
    '',
    context.companyName,
  ].join('\n');
  const html = accountEmailHtml(
    PASSWORD_RESET_SUBJECT,
    context.companyName,
    `<p style="margin:0 0 16px;">Hello ${escapeHtml(mail.username)},</p>
<p style="margin:0 0 16px;">Someone asked to reset the password of your account. Your code is:</p>
<p style="margin:0 0 16px;font-size:28px;font-weight:bold;letter-spacing:6px;font-family:Menlo,Consolas,monospace;">${escapeHtml(mail.code)}</p>
<p style="margin:0 0 16px;">It is valid for ${escapeHtml(validity)} (until ${escapeHtml(until)}) and works once.</p>
<p style="margin:0;font-size:13px;color:#555;">If you did not ask for this, ignore this email: your password stays as it is. Never share this code.</p>`,
  );
  return { subject: PASSWORD_RESET_SUBJECT, text, html };
}
