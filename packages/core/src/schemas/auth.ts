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
  token: Type.String({ description: 'a JWT for the Authorization: Bearer header' }),
  expiresIn: Type.String({ description: 'the token lifetime, e.g. 24h' }),
  data: UserSchema,
});
export type AuthResponse = Static<typeof AuthResponseSchema>;

/**
 * The claims of a token this API signed. A correctly signed token is still checked against them:
 * a `sub` that is an array holding a UUID, or an `exp` that is a string, is not one of ours.
 */
export const TokenClaimsSchema = Type.Object({
  sub: UuidSchema,
  role: RoleSchema,
  iat: Type.Integer({ minimum: 0 }),
  exp: Type.Integer({ minimum: 0 }),
});
export type TokenClaims = Static<typeof TokenClaimsSchema>;
