import Type, { type Static } from 'typebox';
import { SingleLineText, StorableText, Timestamp, UuidSchema } from './common.js';

// NIST SP 800-63B: length is what matters; no composition rules. Any character is allowed but NUL
// and unpaired surrogates, which have no faithful UTF-8 form: two different passwords would hash alike.
export const PasswordSchema = StorableText({
  minLength: 8,
  maxLength: 128,
  description: '8 to 128 characters of any kind (no composition rules, NIST SP 800-63B), except NUL and unpaired surrogates',
});

export const SignupBodySchema = Type.Object(
  {
    username: Type.String({
      minLength: 3,
      maxLength: 32,
      pattern: '^[A-Za-z0-9_.-]+$',
      description: '3 to 32 letters, digits, dots, dashes or underscores',
    }),
    email: Type.String({ format: 'email', maxLength: 254 }),
    password: PasswordSchema,
  },
  { additionalProperties: false },
);
export type SignupBody = Static<typeof SignupBodySchema>;

export const LoginBodySchema = Type.Object(
  {
    email: SingleLineText({ minLength: 1, maxLength: 254 }),
    password: StorableText({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBodySchema>;

export const RoleSchema = Type.Union([Type.Literal('user'), Type.Literal('admin')]);
export type Role = Static<typeof RoleSchema>;

export const UserSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  /** The address was confirmed through the link of a verification email. */
  emailVerified: Type.Boolean(),
  createdAt: Timestamp,
});
export type User = Static<typeof UserSchema>;

/** Signup and login answer alike: the token at the top level, the user in `data`, as the seed's clients read them. */
export const AuthResponseSchema = Type.Object({
  success: Type.Literal(true),
  message: Type.String(),
  token: Type.String({ description: 'a short-lived JWT access token for the Authorization: Bearer header' }),
  refreshToken: Type.String({ description: 'an opaque single-use token for POST /auth/refresh; keep it secret' }),
  expiresIn: Type.String({ description: 'the access token lifetime, e.g. 15m' }),
  data: UserSchema,
});
export type AuthResponse = Static<typeof AuthResponseSchema>;

// 32 random bytes in base64url are 43 characters; the bound keeps junk from reaching the hash.
export const RefreshBodySchema = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_-]+$' }) },
  { additionalProperties: false },
);
export type RefreshBody = Static<typeof RefreshBodySchema>;

/** A refresh answers with a new access token and a new refresh token: the one presented is spent. */
export const RefreshResponseSchema = Type.Object({
  success: Type.Literal(true),
  message: Type.String(),
  token: Type.String({ description: 'a new access token' }),
  refreshToken: Type.String({ description: 'the next refresh token; the one presented no longer works' }),
  expiresIn: Type.String({ description: 'the access token lifetime, e.g. 15m' }),
});
export type RefreshResponse = Static<typeof RefreshResponseSchema>;

/** A signed-in device, as GET /auth/sessions lists it. */
export const SessionSchema = Type.Object({
  id: UuidSchema,
  createdAt: Timestamp,
  lastUsedAt: Timestamp,
  userAgent: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean({ description: 'true for the session of the token that asked' }),
});
export type Session = Static<typeof SessionSchema>;

/**
 * The claims of a token this API signed. A correctly signed token is still checked against them:
 * a `sub` that is an array holding a UUID, or an `exp` that is a string, is not one of ours.
 * `sid` names the session, so that ending it refuses the token at once.
 */
export const TokenClaimsSchema = Type.Object({
  sub: UuidSchema,
  sid: UuidSchema,
  role: RoleSchema,
  iat: Type.Integer({ minimum: 0 }),
  exp: Type.Integer({ minimum: 0 }),
});
export type TokenClaims = Static<typeof TokenClaimsSchema>;
