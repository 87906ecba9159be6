// What one report is made of: everything the PDF and the email show, gathered by the report job.
import type { FailedItem } from '@books/core';

export interface ReportRequest {
  requestId: string;
  submitted: number;
  inserted: number;
  failed: number;
  queuedAt: string;
  processingStartedAt: string | null;
  processedAt: string | null;
  /** Time spent inserting (processing start to processed). */
  durationMs: number | null;
  /** Every failed item of this request, ordered by index. */
  failedItems: FailedItem[];
}

export interface ReportData {
  reportId: string;
  /** ISO timestamp. */
  generatedAt: string;
  /** IANA time zone in which dates are shown, e.g. "UTC" or "Europe/Paris". */
  timeZone: string;
  systemName: string;
  company: { name: string; address: string };
  user: { id: string; username: string; email: string };
  /** One section each, oldest first. */
  requests: ReportRequest[];
  totals: { submitted: number; inserted: number; failed: number /** 0-100, one decimal */; successRate: number };
}
