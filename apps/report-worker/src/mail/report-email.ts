// The report email: a clear subject with the counts, a styled HTML body readable on phones, a
// plain-text alternative, and the PDF. Every user-supplied string is escaped in the HTML;
// headers carry no user text except the recipient address, which nodemailer encodes.
import type { ReportData } from '../report-data.js';
import { escapeHtml } from './escape-html.js';

export function reportFileName(data: ReportData): string {
  return `book-import-report-${data.generatedAt.slice(0, 10)}-${data.reportId.slice(0, 8)}.pdf`;
}

export function failuresFileName(data: ReportData): string {
  return `failed-books-${data.generatedAt.slice(0, 10)}-${data.reportId.slice(0, 8)}.csv`;
}

const cancelledCount = (data: ReportData) => data.requests.filter((r) => r.outcome === 'cancelled').length;

export function reportSubject(data: ReportData): string {
  const { submitted, inserted, failed, notProcessed, failedRequests } = data.totals;
  const count = data.requests.length;
  const cancelled = cancelledCount(data);
  if (count === 1 && cancelled === 1) {
    return `Your book import was cancelled: ${inserted} of ${submitted} added before it was cancelled${failed ? `, ${failed} failed` : ''}`;
  }
  const ended = [failedRequests ? `${failedRequests} failed` : '', cancelled ? `${cancelled} cancelled` : ''].filter(Boolean).join(', ');
  const imports =
    count === 1 ? `Your book import${failedRequests ? ' failed' : ''}` : `Your ${count} book imports${ended ? ` (${ended})` : ''}`;
  return `${imports}: ${inserted} of ${submitted} added${failed ? `, ${failed} failed` : ''}${notProcessed ? `, ${notProcessed} not processed` : ''}`;
}

function intro(data: ReportData, stopped: number): string {
  const count = data.requests.length;
  const cancelled = cancelledCount(data);
  if (count === 1 && cancelled === 1) return 'Your import was cancelled, as you asked.';
  const cancelledNote = cancelled ? ` ${cancelled === 1 ? 'One was' : `${cancelled} were`} cancelled, as you asked.` : '';
  if (stopped === 0) return `Your ${count === 1 ? 'import has' : `${count} imports have`} been processed.${cancelledNote}`;
  if (count === 1) return 'Your import stopped before every book was tried.';
  return `${stopped} of your ${count} imports stopped before every book was tried.${cancelledNote}`;
}

/** One sentence per cancelled import: what went in before it was cancelled. */
function cancelledImports(data: ReportData): string[] {
  const several = data.requests.length > 1;
  return data.requests
    .filter((r) => r.outcome === 'cancelled')
    .map(
      (r) =>
        `${several ? `Import ${r.requestId}` : 'Your import'} was cancelled: ${r.inserted} of ${r.submitted} added before it was cancelled` +
        `${r.failed ? `, ${r.failed} refused (listed below)` : ''}` +
        `${r.notProcessed ? `; the other ${r.notProcessed} were not added` : ''}.`,
    );
}

/** One sentence per import that stopped before the end: what went in, what did not, and why. */
function stoppedImports(data: ReportData): string[] {
  const several = data.requests.length > 1;
  return data.requests
    .filter((r) => r.outcome === 'failed')
    .map(
      (r) =>
        `${several ? `Import ${r.requestId}` : 'Your import'} could not be finished: ${r.failureReason ?? 'the import could not be finished'}. ` +
        `${r.inserted} of its ${r.submitted} books were added before it stopped` +
        `${r.failed ? `, ${r.failed} were refused (listed below)` : ''}` +
        `${r.notProcessed ? `, and ${r.notProcessed} were not processed: submit those again` : ''}.`,
    );
}

function rateColour(rate: number): string {
  if (rate >= 90) return '#1a7f37';
  if (rate >= 50) return '#b26b00';
  return '#c62828';
}

export function reportHtml(data: ReportData): string {
  const { submitted, inserted, failed, successRate } = data.totals;
  const colour = rateColour(successRate);
  const failures = data.requests.flatMap((r) => r.failedItems).slice(0, 10);
  const more = data.totals.failed - failures.length;
  const stopped = stoppedImports(data);
  const cancelled = cancelledImports(data);
  const failureRows = failures
    .map(
      (f) =>
        `<tr><td style="padding:6px 8px;border-top:1px solid #eee;">${escapeHtml(f.title ?? '(no title)')}</td><td style="padding:6px 8px;border-top:1px solid #eee;color:#666;">${escapeHtml(f.reason)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(reportSubject(data))}</title></head>
<body style="margin:0;padding:0;background:#f4f5f7;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2328;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;padding:16px 0;"><tr><td align="center">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;border-radius:8px;overflow:hidden;">
<tr><td style="background:#1e3a5f;color:#ffffff;padding:20px 24px;">
<div style="font-size:18px;font-weight:bold;">${escapeHtml(data.company.name)}</div>
<div style="font-size:13px;opacity:.85;">Bulk book processing report</div></td></tr>
<tr><td style="padding:24px;">
<p style="margin:0 0 16px;">Hello ${escapeHtml(data.user.username)},</p>
<p style="margin:0 0 16px;">${intro(data, stopped.length)} The full report is attached as a PDF${failed ? ', and every book that was refused is listed in the attached CSV file' : ''}.</p>
${stopped.map((line) => `<p style="margin:0 0 16px;padding:12px;background:#fdecea;border-left:4px solid #c62828;border-radius:4px;">${escapeHtml(line)}</p>`).join('\n')}
${cancelled.map((line) => `<p style="margin:0 0 16px;padding:12px;background:#f0f1f3;border-left:4px solid #555555;border-radius:4px;">${escapeHtml(line)}</p>`).join('\n')}
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="margin:0 0 16px;text-align:center;">
<tr>
<td style="padding:12px;background:#f6f8fa;border-radius:6px;"><div style="font-size:22px;font-weight:bold;">${submitted}</div><div style="font-size:12px;color:#666;">submitted</div></td>
<td style="width:8px;"></td>
<td style="padding:12px;background:#eaf6ec;border-radius:6px;"><div style="font-size:22px;font-weight:bold;color:#1a7f37;">${inserted}</div><div style="font-size:12px;color:#666;">added</div></td>
<td style="width:8px;"></td>
<td style="padding:12px;background:#fdecea;border-radius:6px;"><div style="font-size:22px;font-weight:bold;color:#c62828;">${failed}</div><div style="font-size:12px;color:#666;">failed</div></td>
${
  data.totals.notProcessed
    ? `<td style="width:8px;"></td>
<td style="padding:12px;background:#f0f1f3;border-radius:6px;"><div style="font-size:22px;font-weight:bold;color:#555;">${data.totals.notProcessed}</div><div style="font-size:12px;color:#666;">not processed</div></td>`
    : ''
}
</tr></table>
<p style="margin:0 0 16px;font-size:15px;">Success rate: <strong style="color:${colour};">${successRate.toFixed(1)}%</strong></p>
${
  failures.length
    ? `<p style="margin:16px 0 8px;font-weight:bold;">Books that were not added${more > 0 ? ` (first ${failures.length} of ${data.totals.failed})` : ''}</p>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="font-size:13px;border-collapse:collapse;">${failureRows}</table>`
    : stopped.length || cancelled.length
      ? ''
      : '<p style="margin:0;">Every book was added.</p>'
}
</td></tr>
<tr><td style="padding:16px 24px;background:#f6f8fa;font-size:12px;color:#666;">${escapeHtml(data.company.name)} · ${escapeHtml(data.company.address)}<br>Report ${escapeHtml(data.reportId)}</td></tr>
</table></td></tr></table></body></html>`;
}

export function reportText(data: ReportData): string {
  const { submitted, inserted, failed, notProcessed, successRate } = data.totals;
  const stopped = stoppedImports(data);
  const lines = [
    `Hello ${data.user.username},`,
    '',
    intro(data, stopped.length),
    ...stopped.flatMap((line) => ['', line]),
    ...cancelledImports(data).flatMap((line) => ['', line]),
    '',
    `Submitted: ${submitted}`,
    `Added:     ${inserted}`,
    `Failed:    ${failed}`,
    ...(notProcessed ? [`Not processed: ${notProcessed}`] : []),
    `Success rate: ${successRate.toFixed(1)}%`,
  ];
  const failures = data.requests.flatMap((r) => r.failedItems);
  if (failures.length) {
    lines.push('', 'Books that were not added:');
    for (const f of failures.slice(0, 50)) lines.push(`- #${f.index} "${f.title ?? '(no title)'}": ${f.reason}`);
    if (data.totals.failed > 50) lines.push(`… and ${data.totals.failed - 50} more in the attached files.`);
  }
  lines.push(
    '',
    `The full report is attached as a PDF (report ${data.reportId})${failures.length ? '; every book that was not added is in the attached CSV file' : ''}.`,
    '',
    `${data.company.name}`,
    data.company.address,
  );
  return lines.join('\n');
}
