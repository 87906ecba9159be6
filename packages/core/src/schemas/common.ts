import Type, { type Static, type TSchema } from 'typebox';

export const ErrorDetailSchema = Type.Object({
  path: Type.String({ description: 'JSON pointer to the offending value, e.g. /title' }),
  message: Type.String(),
});
export type ErrorDetail = Static<typeof ErrorDetailSchema>;

/** Every error answer, from validation to 500. */
export const ErrorResponseSchema = Type.Object({
  success: Type.Literal(false),
  error: Type.String({ description: 'a readable message' }),
  code: Type.String({ description: 'a machine code such as VALIDATION_ERROR or NOT_FOUND' }),
  details: Type.Optional(Type.Array(ErrorDetailSchema)),
});
export type ErrorResponse = Static<typeof ErrorResponseSchema>;

/** `{ success: true, data, message? }`, the seed's envelope. */
export const SuccessEnvelope = <T extends TSchema>(data: T) =>
  Type.Object({ success: Type.Literal(true), message: Type.Optional(Type.String()), data });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * A UUID exactly as Postgres' `uuid` type takes it. ajv-formats' `uuid` format also accepts a
 * `urn:uuid:` prefix, which Postgres refuses (a 500), hence the pattern; the format stays for OpenAPI.
 */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const UuidSchema = Type.String({
  format: 'uuid',
  pattern: UUID_PATTERN,
  description: 'a UUID, e.g. 6f1c1b1e-3d7c-4b8e-9a55-0d1a2b3c4d5e',
});

export const IdParamsSchema = Type.Object({ id: UuidSchema });
export type IdParams = Static<typeof IdParamsSchema>;

export const Timestamp = Type.String({ format: 'date-time' });

// What every accepted string must be free of. NUL: Postgres `text` cannot hold it (22021, which fails
// the whole statement). Unpaired UTF-16 surrogates: they have no UTF-8 encoding, so they would reach
// Postgres, argon2 and mail clients as U+FFFD or an error. C0 controls, DEL and C1: they break mail
// headers, PDF lines and terminals (every text field today is one line; a multi-line one would allow
// tab and newline).
// Both validators compile patterns with the `u` flag (Ajv's `unicodeRegExp` default, TypeBox always),
// which is what makes the surrogate range match only unpaired halves, never an emoji's pair.
const C0_C1 = '\\u0000-\\u001F\\u007F-\\u009F';
const SURROGATES = '\\uD800-\\uDFFF';

/** Anything but NUL and unpaired surrogates: for secrets, which are hashed as UTF-8 and never displayed. */
export const STORABLE_PATTERN = `^[^\\u0000${SURROGATES}]*$`;
/** One line of text: no control characters at all. */
export const SINGLE_LINE_PATTERN = `^[^${C0_C1}${SURROGATES}]*$`;
/** One line with at least one visible character; linear (the two leading classes are disjoint). */
export const SINGLE_LINE_NONBLANK_PATTERN = `^[^\\S${C0_C1}${SURROGATES}]*[^\\s${C0_C1}${SURROGATES}][^${C0_C1}${SURROGATES}]*$`;

const PATTERN_MESSAGES: Record<string, string> = {
  [UUID_PATTERN]: 'must be a UUID such as 6f1c1b1e-3d7c-4b8e-9a55-0d1a2b3c4d5e',
  [STORABLE_PATTERN]: 'must not contain NUL or unpaired surrogate characters',
  [SINGLE_LINE_PATTERN]: 'must be one line without control characters, NUL or unpaired surrogates',
  [SINGLE_LINE_NONBLANK_PATTERN]: 'must not be empty, and must be one line without control characters, NUL or unpaired surrogates',
};

/** A readable sentence for a failed `pattern` keyword, instead of the regular expression itself. */
export function patternMessage(pattern: unknown): string | undefined {
  return typeof pattern === 'string' ? PATTERN_MESSAGES[pattern] : undefined;
}

type TextOptions = { minLength?: number; maxLength: number; description?: string };

/** A single-line string field (title, author, isbn, search…); `nonBlank` also demands a visible character. */
export const SingleLineText = ({ nonBlank = false, ...options }: TextOptions & { nonBlank?: boolean }) =>
  Type.String({ ...options, pattern: nonBlank ? SINGLE_LINE_NONBLANK_PATTERN : SINGLE_LINE_PATTERN });

/** A secret: any characters that survive UTF-8 encoding faithfully. */
export const StorableText = (options: TextOptions) => Type.String({ ...options, pattern: STORABLE_PATTERN });
