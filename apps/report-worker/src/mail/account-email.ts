// An account email as it is sent: the wording of its kind (one file per kind) and its Message-ID.
import type { AccountMail } from '@books/core/schemas';
import type { AccountEmailContext, ComposedEmail } from './account-email-layout.js';
import { passwordResetEmail } from './password-reset-email.js';
import { verifyEmailEmail } from './verify-email-email.js';

export function composeAccountEmail(mail: AccountMail, context: AccountEmailContext): ComposedEmail {
  return mail.kind === 'verify-email' ? verifyEmailEmail(mail, context) : passwordResetEmail(mail, context);
}

/** Derived from the message id: every attempt of one message, and any second copy, carry the same one. */
export function accountMailMessageId(mailId: string, fromAddress: string): string {
  return `<account-${mailId}@${fromAddress.split('@')[1] || 'books.local'}>`;
}
