// A report's id and Message-ID name exactly what the email covers: the same user and set of
// requests always give the same id (a resend is recognised as the same message by mail clients),
// and any other set gives another (a resend that covers a new import is a new message, not hidden
// behind the first).
import { createHash } from 'node:crypto';

/** A UUID (version 8, RFC 9562's custom layout) made of sha256(user id, sorted request ids). */
export function reportIdFor(userId: string, requestIds: readonly string[]): string {
  const digest = createHash('sha256')
    .update(`${userId}\n${[...requestIds].sort().join(',')}`)
    .digest();
  digest[6] = (digest[6]! & 0x0f) | 0x80;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function reportMessageId(reportId: string, fromAddress: string): string {
  return `<report-${reportId}@${fromAddress.split('@')[1] || 'books.local'}>`;
}
