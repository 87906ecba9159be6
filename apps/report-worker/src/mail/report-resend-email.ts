// A stored report sent again at its owner's request (POST /reports/:id/resend). The report's own
// body is made from data that is gone by then (the requests' records expire long before the
// report), so the resend is a short note around the PDF as it was sent, under the original subject.
// Only the username is user text; it is escaped in the HTML.
import type { ComposedEmail } from './account-email-layout.js';
import { escapeHtml } from './escape-html.js';

export interface ResentReport {
  id: string;
  subject: string;
  createdAt: Date;
  username: string;
}

export function reportResendEmail(report: ResentReport, companyName: string): ComposedEmail {
  const sentOn = report.createdAt.toISOString().slice(0, 10);
  const text = [
    `Hello ${report.username},`,
    '',
    `As you asked, here is your report of ${sentOn} again ("${report.subject}"), attached as a PDF (report ${report.id}).`,
    '',
    companyName,
  ].join('\n');
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Your report, sent again</title></head>
<body style="margin:0;padding:24px;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2328;">
<p>Hello ${escapeHtml(report.username)},</p>
<p>As you asked, here is your report of ${sentOn} again (&ldquo;${escapeHtml(report.subject)}&rdquo;), attached as a PDF.</p>
<p style="font-size:12px;color:#666;">${escapeHtml(companyName)} · Report ${escapeHtml(report.id)}</p>
</body></html>`;
  return { subject: `Your report, sent again: ${report.subject}`, text, html };
}

/** Each resend request has its own Message-ID, distinct from the original's and from other resends'. */
export function reportResendMessageId(reportId: string, resendId: string, fromAddress: string): string {
  return `<report-${reportId}-resend-${resendId}@${fromAddress.split('@')[1] || 'books.local'}>`;
}
