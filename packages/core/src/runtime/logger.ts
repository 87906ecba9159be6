import { type Logger, type LoggerOptions, pino } from 'pino';
import type { LoggingConfig } from '../config/fragments.js';

/** Paths pino blanks out wherever they appear: no password, token or secret reaches a log line. */
export const redactPaths = [
  'password',
  '*.password',
  'passwordHash',
  '*.passwordHash',
  'token',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'smtp.pass',
  'config.jwt.secret',
];

export function loggerOptions(config: Pick<LoggingConfig, 'logLevel'>, service: string): LoggerOptions {
  return {
    level: config.logLevel,
    base: { service },
    redact: { paths: redactPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(config: Pick<LoggingConfig, 'logLevel'>, service: string): Logger {
  return pino(loggerOptions(config, service));
}
