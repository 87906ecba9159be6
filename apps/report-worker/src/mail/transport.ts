// One pooled SMTP transport for the worker's lifetime, built from config. nodemailer never
// retries a failed send: retries and backoff are the report job's.
import type { SmtpConfig } from '@books/core/config';
import nodemailer from 'nodemailer';

export type Mailer = ReturnType<typeof createMailTransport>;

export function createMailTransport(smtp: SmtpConfig) {
  return nodemailer.createTransport({
    pool: true,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.pass } } : {}),
    maxConnections: 5,
    maxMessages: 100,
    // A dropped pooled connection would otherwise re-queue the same message for ever (nodemailer#1105).
    maxRequeues: 1,
    // An unreachable server is known quickly and retried later...
    connectionTimeout: smtp.connectionTimeoutMs,
    greetingTimeout: smtp.connectionTimeoutMs,
    // ...but the answer to the end of DATA is awaited as RFC 5321 §4.5.3.2 says (10 minutes): a
    // server that answers late has usually accepted the message, and giving up would send it twice.
    socketTimeout: smtp.socketTimeoutMs,
  });
}

/** Temporary failures (no connection, 4xx) are retried on later passes; 5xx are final. */
export function isPermanentSmtpFailure(err: unknown): boolean {
  const code = (err as { responseCode?: unknown })?.responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}
