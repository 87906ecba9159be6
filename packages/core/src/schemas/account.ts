// Bodies and answers of the account routes beyond signup and login: email verification, password
// change, forgotten-password codes. New passwords reuse PasswordSchema, the signup rule.
import Type, { type Static } from 'typebox';
import { PasswordSchema } from './auth.js';
import { SingleLineText, StorableText } from './common.js';

/** 32 random bytes in base64url, as the verification email's link carries them. */
export const VerifyEmailParamsSchema = Type.Object({
  token: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'the token of the verification link' }),
});
export type VerifyEmailParams = Static<typeof VerifyEmailParamsSchema>;

export const ChangePasswordBodySchema = Type.Object(
  {
    currentPassword: StorableText({ minLength: 1, maxLength: 128 }),
    newPassword: PasswordSchema,
  },
  { additionalProperties: false },
);
export type ChangePasswordBody = Static<typeof ChangePasswordBodySchema>;

export const ForgotPasswordBodySchema = Type.Object(
  { email: SingleLineText({ minLength: 1, maxLength: 254 }) },
  { additionalProperties: false },
);
export type ForgotPasswordBody = Static<typeof ForgotPasswordBodySchema>;

export const ResetPasswordBodySchema = Type.Object(
  {
    email: SingleLineText({ minLength: 1, maxLength: 254 }),
    code: Type.String({ pattern: '^[0-9]{6}$', description: 'the 6-digit code of the password-reset email' }),
    newPassword: PasswordSchema,
  },
  { additionalProperties: false },
);
export type ResetPasswordBody = Static<typeof ResetPasswordBodySchema>;

/** An answer that carries only a message (a 202 that says nothing about whether the account exists). */
export const MessageResponseSchema = Type.Object({ success: Type.Literal(true), message: Type.String() });
export type MessageResponse = Static<typeof MessageResponseSchema>;
