// One envelope for every error: `{ success: false, error, code, details? }`. 5xx details are logged, never sent.
import type { ErrorResponse } from '@books/core';
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, errorCode } from '../errors.js';

const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

// Connection-level failures of Postgres or Redis: the request may succeed later, so 503, not 500.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01',
  '57P03',
]);

export function toErrorResponse(err: FastifyError | AppError | Error): { status: number; body: ErrorResponse } {
  if (err instanceof AppError) {
    const body: ErrorResponse = { success: false, error: err.message, code: err.code };
    if (err.details) body.details = err.details;
    return { status: err.statusCode, body };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const details = fe.validation.map((v) => ({
      path: `${fe.validationContext ? `${fe.validationContext}:` : ''}${v.instancePath || '/'}`,
      message:
        v.keyword === 'required'
          ? `must have property ${(v.params as { missingProperty?: string }).missingProperty}`
          : (v.message ?? 'is invalid'),
    }));
    return {
      status: 400,
      body: {
        success: false,
        error: `Invalid request: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`,
        code: 'VALIDATION_ERROR',
        details,
      },
    };
  }
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { status, body: { success: false, error: fe.message, code: CODE_BY_STATUS[status] ?? 'BAD_REQUEST' } };
  }
  const code = errorCode(err);
  if (code && UNAVAILABLE_CODES.has(code)) {
    return {
      status: 503,
      body: { success: false, error: 'A backing service is unavailable; try again shortly', code: 'SERVICE_UNAVAILABLE' },
    };
  }
  return { status: 500, body: { success: false, error: 'Internal server error', code: 'INTERNAL_ERROR' } };
}

export default fp(
  async function errorHandler(app: FastifyInstance) {
    app.setErrorHandler((err: FastifyError, request, reply) => {
      const { status, body } = toErrorResponse(err);
      if (status >= 500) request.log.error({ err, userId: request.identity?.id }, 'request failed');
      else if (status !== 404) request.log.info({ code: body.code, status }, body.error);
      if (status === 503) reply.header('retry-after', '5');
      return reply.code(status).send(body);
    });
    app.setNotFoundHandler((request, reply) => {
      const body: ErrorResponse = {
        success: false,
        error: `Route ${request.method} ${request.url.split('?')[0]} not found`,
        code: 'NOT_FOUND',
      };
      return reply.code(404).send(body);
    });
  },
  { name: 'error-handler' },
);
