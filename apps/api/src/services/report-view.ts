// What the API shows of a stored report: its metadata and where its PDF is, never the bytes.
import { type ReportMeta, reportExpiresAt } from '@books/core/db';
import type { Report } from '@books/core/schemas';

const iso = (at: Date | null) => (at ? at.toISOString() : null);

export const reportUrl = (id: string) => `/reports/${id}`;
export const reportPdfUrl = (id: string) => `/reports/${id}/pdf`;

export function publicReport(row: ReportMeta, retentionMs: number): Report {
  return {
    id: row.id,
    requestIds: row.requestIds,
    subject: row.subject,
    filename: row.filename,
    createdAt: row.createdAt.toISOString(),
    sentAt: iso(row.deliveredAt),
    messageId: row.messageId,
    deliveryState: row.deliveryState,
    deliveryError: row.deliveryError,
    bytes: row.pdfBytes,
    expiresAt: reportExpiresAt(row, retentionMs).toISOString(),
    pdfUrl: reportPdfUrl(row.id),
    resend: {
      state: row.resendState,
      requestedAt: iso(row.resendRequestedAt),
      count: row.resendCount,
      lastResentAt: iso(row.lastResentAt),
      lastMessageId: row.lastResendMessageId,
      error: row.resendError,
    },
  };
}
