// The emails of the account lifecycle, as the API queues them and the report worker (which owns
// SMTP) sends them. The payload carries what the message needs and nothing the worker must look up.
import Type, { type Static } from 'typebox';
import { UuidSchema } from './common.js';

const Common = {
  /** Unique per message: the worker's Message-ID and its exactly-once marker derive from it. */
  id: UuidSchema,
  to: Type.String({ minLength: 3, maxLength: 320 }),
  username: Type.String({ minLength: 1, maxLength: 200 }),
  queuedAt: Type.String({ format: 'date-time' }),
};

export const VerifyEmailMailSchema = Type.Object({
  ...Common,
  kind: Type.Literal('verify-email'),
  /** The single-use link, GET /auth/verify-email/:token on the API's public address. */
  link: Type.String({ minLength: 1, maxLength: 2000 }),
  expiresAt: Type.String({ format: 'date-time' }),
});

export const PasswordResetMailSchema = Type.Object({
  ...Common,
  kind: Type.Literal('password-reset'),
  /** The 6-digit one-time code. */
  code: Type.String({ pattern: '^[0-9]{6}$' }),
  expiresAt: Type.String({ format: 'date-time' }),
});

export const AccountMailSchema = Type.Union([VerifyEmailMailSchema, PasswordResetMailSchema]);
export type AccountMail = Static<typeof AccountMailSchema>;
export type AccountMailKind = AccountMail['kind'];
