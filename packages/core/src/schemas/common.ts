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

export const IdParamsSchema = Type.Object({ id: Type.String({ format: 'uuid' }) });
export type IdParams = Static<typeof IdParamsSchema>;

export const Timestamp = Type.String({ format: 'date-time' });
