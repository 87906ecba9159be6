// What a user is told when their report could not be sent: a readable reason and a code, never the
// raw error (hosts, ports, server banners, stacks). Operators get the error itself in the logs.
import { PdfRenderError } from '../pdf/render-pool.js';

export interface DeliveryError {
  code: string;
  /** Shown to the user as the request's lastError. */
  reason: string;
}

interface SmtpErrorFields {
  code?: unknown;
  responseCode?: unknown;
  command?: unknown;
}

export function describeDeliveryError(err: unknown): DeliveryError {
  if (err instanceof PdfRenderError) return { code: 'REPORT_RENDER_FAILED', reason: 'the PDF report could not be made' };
  const { code, responseCode, command } = (err ?? {}) as SmtpErrorFields;
  if (typeof responseCode === 'number') {
    const recipient = code === 'EENVELOPE' || (typeof command === 'string' && /^RCPT/i.test(command));
    if (responseCode >= 500 && recipient)
      return { code: 'MAIL_RECIPIENT_REFUSED', reason: `the mail server refused the recipient address (${responseCode})` };
    if (responseCode >= 500) return { code: 'MAIL_REFUSED', reason: `the mail server refused the message (${responseCode})` };
    if (responseCode >= 400)
      return { code: 'MAIL_DEFERRED', reason: `the mail server could not take the message for now (${responseCode})` };
  }
  if (code === 'ETIMEDOUT') return { code: 'MAIL_SERVER_TIMEOUT', reason: 'the mail server did not answer in time' };
  if (code === 'EAUTH') return { code: 'MAIL_AUTH_FAILED', reason: 'the mail server refused our sign-in' };
  if (code === 'ECONNECTION' || code === 'ESOCKET' || code === 'EDNS' || code === 'ETLS' || code === 'ECONNREFUSED')
    return { code: 'MAIL_SERVER_UNREACHABLE', reason: 'the mail server could not be reached' };
  return { code: 'REPORT_SEND_FAILED', reason: 'the report could not be sent' };
}
