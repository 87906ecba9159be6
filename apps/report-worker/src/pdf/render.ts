// Renders a report to PDF bytes in this thread. Long-lived processes should go through render-pool.ts.
import { renderToBuffer } from '@react-pdf/renderer';
import type { ReportData } from '../report-data.js';
import { checkReportData } from './check-report-data.js';
import { registerReportFonts } from './fonts.js';
import { reportDocument } from './report-document.js';

/** Throws a TypeError or RangeError naming the field when the data cannot be shown. */
export async function renderReportPdf(data: ReportData): Promise<Buffer> {
  checkReportData(data);
  registerReportFonts();
  // renderToBuffer, not streams: the stream path is slower and we hold the whole file anyway (react-pdf#2055).
  return renderToBuffer(reportDocument(data));
}
