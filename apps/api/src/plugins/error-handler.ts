// One envelope for every error: `{ success: false, error, code, details? }`. 5xx details are logged, never sent.
// Errors raised before a route runs reach it too: Fastify's router errors through `frameworkErrors`,
// Node's HTTP parser errors through `clientErrorHandler` (both wired in app.ts).
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ErrorResponse, patternMessage } from '@books/core/schemas';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, errorCode } from '../errors.js';

const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
};

// Fastify's messages for these quote the request path back; ours say what is wrong instead.
const FIXED_MESSAGES: Record<string, string> = {
  FST_ERR_BAD_URL: 'The URL is malformed: a percent-encoding in it is not valid UTF-8',
  FST_ERR_MAX_PARAM_LENGTH: 'A path parameter is longer than this API accepts',
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
          : ((v.keyword === 'pattern' ? patternMessage((v.params as { pattern?: unknown }).pattern) : undefined) ??
            v.message ??
            'is invalid'),
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
    const error = (fe.code && FIXED_MESSAGES[fe.code]) ?? fe.message;
    return { status, body: { success: false, error, code: CODE_BY_STATUS[status] ?? 'BAD_REQUEST' } };
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

/** Fastify's `frameworkErrors`: a URL the router cannot take (bad percent-encoding, over-long parameter). */
export function answerFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const { status, body } = toErrorResponse(err);
  request.log.info({ code: body.code, status, fastifyCode: err.code }, body.error);
  return reply.code(status).send(body);
}

const CLIENT_ERRORS: Record<string, { status: number; error: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, error: 'The request headers are larger than this API accepts' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, error: 'The request did not arrive in time' },
};
const MALFORMED_REQUEST = { status: 400, error: 'The request is not valid HTTP (e.g. a header holds a forbidden character)' };

/**
 * Fastify's `clientErrorHandler`: Node's parser refused the request before Fastify saw it
 * (invalid header bytes, oversized headers, a timeout), so the answer is written to the socket.
 */
export function answerClientError(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex) {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, error } = (err.code && CLIENT_ERRORS[err.code]) || MALFORMED_REQUEST;
  this.log.info({ code: err.code, status }, 'client error before routing');
  // As Node does: never write into a response that has already started on this socket.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ success: false, error, code: CODE_BY_STATUS[status] ?? 'BAD_REQUEST' } satisfies ErrorResponse);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
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
