import type { ErrorDetail } from '@books/core/schemas';

/** An error the client caused or should know about: its status, machine code and message are shown as is. */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** A read of the bulk queue that Redis did not answer: a 503 the client may retry, never a 500. */
export const queueUnreadable = (cause: unknown) =>
  Object.assign(new AppError(503, 'QUEUE_UNAVAILABLE', 'The bulk queue is unavailable right now; try again shortly.'), { cause });

export const notFound = (what: string) => new AppError(404, 'NOT_FOUND', `${what} not found`);
export const unauthorized = (message = 'Authentication required') => new AppError(401, 'UNAUTHORIZED', message);
export const validationError = (details: ErrorDetail[]) =>
  new AppError(400, 'VALIDATION_ERROR', `Invalid request: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`, details);

/** The error code of `err` or of what caused it (Drizzle wraps driver errors in DrizzleQueryError). */
export function errorCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') return e.code;
  }
  return undefined;
}

/** Postgres SQLSTATE of a failed statement, when there is one. */
export function pgErrorCode(err: unknown): string | undefined {
  const code = errorCode(err);
  return code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The constraint a Postgres error names (postgres.js: constraint_name). */
export function pgConstraint(err: unknown): string | undefined {
  const e = err as { constraint_name?: string; constraint?: string; cause?: unknown };
  return e?.constraint_name ?? e?.constraint ?? (e?.cause ? pgConstraint(e.cause) : undefined);
}
