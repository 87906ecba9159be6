// The report PDF timed in this thread, with report data shaped as the report job gathers it.
import { renderReportPdf } from '../../apps/report-worker/dist/pdf/render.js';

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// pdfkit writes one uncompressed `/Type /Page` dictionary per page (and one `/Type /Pages` for the tree).
export const pageCount = (pdf) => (pdf.toString('latin1').match(/\/Type \/Page\b/g) ?? []).length;

/** One user's report of one request with `failures` failed items (and 3 books that went in). */
export function sampleReport(failures) {
  const submitted = failures + 3;
  const inserted = submitted - failures;
  return {
    reportId: '0b8f3c8e-5d0a-4a43-9d7e-3f1c2b6a9e10',
    generatedAt: '2025-10-13T14:05:00.000Z',
    timeZone: 'UTC',
    systemName: 'Books Service',
    company: { name: 'Books Management Inc.', address: '123 Library Street, Book City, BC 12345' },
    user: { id: '7d7f9e4a-3c1b-4f0e-9a52-6b8d1e2c4f70', username: 'reader_1', email: 'reader_1@example.com' },
    requests: [
      {
        requestId: 'c81f0a52-3d7b-4e19-a6c4-7b95e2d1f008',
        submitted,
        inserted,
        failed: failures,
        queuedAt: '2025-10-13T13:41:02.000Z',
        processingStartedAt: '2025-10-13T13:42:19.000Z',
        processedAt: '2025-10-13T13:42:21.400Z',
        durationMs: 2400,
        outcome: 'processed',
        notProcessed: 0,
        failureReason: null,
        failedAt: null,
        failedItemsOmitted: 0,
        failedItems: Array.from({ length: failures }, (_, i) => ({
          index: i + 3,
          // Some missing titles and authors, as real failures have.
          title: i % 7 === 0 ? null : `Field Guide to Northern Birds, volume ${i + 1}`,
          author: i % 5 === 0 ? null : 'Ornithology Society',
          reason: i % 2 ? 'isbn is not a valid ISBN-10 or ISBN-13' : 'title is required',
        })),
      },
    ],
    totals: {
      submitted,
      inserted,
      failed: failures,
      notProcessed: 0,
      failedRequests: 0,
      successRate: Math.round((inserted / submitted) * 1000) / 10,
    },
  };
}

/** renderReportPdf in this thread, `warmup` renders discarded first (JIT, font loading). */
export async function timeRenders({ failures, warmup, measured }) {
  const data = sampleReport(failures);
  for (let i = 0; i < warmup; i++) await renderReportPdf(data);
  const times = [];
  let pdf;
  for (let i = 0; i < measured; i++) {
    const started = performance.now();
    pdf = await renderReportPdf(data);
    times.push(performance.now() - started);
  }
  return {
    failures,
    renders: measured,
    medianMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    pages: pageCount(pdf),
    bytes: pdf.length,
  };
}
