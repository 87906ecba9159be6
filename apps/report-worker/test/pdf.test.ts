// The PDF report as its reader sees it: text pulled back out of the rendered file with pdf.js.
// The pool tests start real worker threads from dist/: run `pnpm --filter @books/report-worker build` first.
import type { FailedItem } from '@books/core/schemas';
import { pdfText } from '@books/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { formatDateTime, formatDuration, formatPercent, ordinal } from '../src/pdf/format.js';
import { renderReportPdf } from '../src/pdf/render.js';
import { createPdfRenderer, type PdfRenderer } from '../src/pdf/render-pool.js';
import type { ReportData, ReportRequest } from '../src/report-data.js';

const pdfPages = async (pdf: Buffer) => (await pdfText(pdf)).pageTexts;

/** Every glyph came from embedded Noto Sans: nothing fell back to react-pdf's Latin-1-only Helvetica. */
function expectOnlyEmbeddedFonts(pdf: Buffer): void {
  const raw = pdf.toString('latin1');
  expect(raw).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSans-Regular/);
  expect(raw).not.toMatch(/\/BaseFont \/(Helvetica|Times|Courier)/);
}

let nextRequest = 0;

function request(failedItems: FailedItem[], overrides: Partial<ReportRequest> = {}): ReportRequest {
  const inserted = overrides.inserted ?? 4;
  nextRequest += 1;
  return {
    requestId: `5b0c7d1e-9a4f-4c2e-8b13-${String(nextRequest).padStart(12, '0')}`,
    outcome: 'processed',
    submitted: inserted + failedItems.length,
    inserted,
    failed: failedItems.length,
    notProcessed: 0,
    failureReason: null,
    queuedAt: '2025-10-13T15:40:15.000Z',
    processingStartedAt: '2025-10-13T15:40:15.000Z',
    processedAt: '2025-10-13T15:42:30.000Z',
    failedAt: null,
    durationMs: 135_000,
    failedItems,
    failedItemsOmitted: 0,
    ...overrides,
  };
}

function report(requests: ReportRequest[], overrides: Partial<ReportData> = {}): ReportData {
  const submitted = requests.reduce((sum, r) => sum + r.submitted, 0);
  const inserted = requests.reduce((sum, r) => sum + r.inserted, 0);
  const notProcessed = requests.reduce((sum, r) => sum + r.notProcessed, 0);
  return {
    reportId: 'abc-123-def',
    generatedAt: '2025-10-13T15:45:23.000Z',
    timeZone: 'UTC',
    systemName: 'Books Service',
    company: { name: 'Books Management Inc.', address: '123 Library Street, Book City, BC 12345' },
    user: { id: '0d6f3b8e-2c1a-4f57-8e9d-6a4b2c1e7f30', username: 'alice_reader', email: 'alice@example.com' },
    requests,
    totals: {
      submitted,
      inserted,
      failed: submitted - inserted - notProcessed,
      notProcessed,
      failedRequests: requests.filter((r) => r.outcome === 'failed').length,
      successRate: submitted === 0 ? 0 : Math.round((inserted / submitted) * 1000) / 10,
    },
    ...overrides,
  };
}

const failures = (count: number, title = (n: number) => `Broken book ${String(n).padStart(3, '0')}`): FailedItem[] =>
  Array.from({ length: count }, (_, n) => ({ index: n + 2, title: title(n), author: `Author ${n % 5}`, reason: `reason number ${n}` }));

describe('format', () => {
  it('writes dates the way the seed shows them, in the report time zone', () => {
    expect(formatDateTime('2025-10-13T15:45:23Z', 'UTC')).toBe('October 13th 2025, 3:45:23 pm UTC');
    expect(formatDateTime('2025-10-13T15:45:23Z', 'Europe/Paris', { zone: false })).toBe('October 13th 2025, 5:45:23 pm');
    expect(formatDateTime('2025-01-01T00:00:05Z', 'America/New_York')).toBe('December 31st 2024, 7:00:05 pm EST');
    expect(formatDateTime(null, 'UTC')).toBe('—');
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111].map(ordinal)).toEqual([
      '1st',
      '2nd',
      '3rd',
      '4th',
      '11th',
      '12th',
      '13th',
      '21st',
      '22nd',
      '23rd',
      '101st',
      '111th',
    ]);
  });

  it('writes durations and rates for a reader', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(4_240)).toBe('4.2 seconds');
    expect(formatDuration(42_000)).toBe('42 seconds');
    expect(formatDuration(120_000)).toBe('2 minutes');
    expect(formatDuration(135_000)).toBe('2 minutes 15 seconds');
    expect(formatDuration(61_000)).toBe('1 minute 1 second');
    expect(formatDuration(3_780_000)).toBe('1 hour 3 minutes');
    expect(formatDuration(null)).toBe('—');
    expect(formatPercent(80)).toBe('80.0%');
    expect(formatPercent(66.7)).toBe('66.7%');
  });
});

describe('renderReportPdf', () => {
  it('says who the report is for, what happened, when, and why each failure failed', async () => {
    const failed: FailedItem[] = [
      { index: 3, title: 'Corrupted Book', author: 'Unknown Author', reason: 'Simulated database error' },
      { index: 5, title: null, author: null, reason: 'title is required' },
    ];
    const data = report([request(failed, { inserted: 8 })]);
    const pdf = await renderReportPdf(data);
    const [page, ...rest] = await pdfPages(pdf);

    expect(rest).toEqual([]);
    for (const expected of [
      'Bulk Book Processing Report',
      'Books Management Inc.',
      '123 Library Street, Book City, BC 12345',
      'abc-123-def',
      'alice_reader',
      'alice@example.com',
      data.requests[0]!.requestId,
      'BOOKS SUBMITTED 10 ',
      'INSERTED 8 ',
      'FAILED 2 ',
      'SUCCESS RATE 80.0%',
      'October 13th 2025, 3:45:23 pm UTC',
      'October 13th 2025, 3:40:15 pm',
      'October 13th 2025, 3:42:30 pm',
      'Processing duration 2 minutes 15 seconds',
      'Failed books (2)',
      '3 Corrupted Book Unknown Author Simulated database error',
      '5 (no title) (no author) title is required',
      'Page 1 of 1',
    ]) {
      expect(page).toContain(expected);
    }
    expectOnlyEmbeddedFonts(pdf);
  });

  it('says so kindly when nothing failed', async () => {
    const [page] = await pdfPages(await renderReportPdf(report([request([])])));
    expect(page).toContain('No books failed: every submitted book was inserted.');
    expect(page).toContain('SUCCESS RATE 100.0%');
  });

  it('lists 300 failures over several pages, repeating the table head, with page numbers', async () => {
    const pdf = await renderReportPdf(report([request(failures(300), { inserted: 20 })]));
    const pages = await pdfPages(pdf);
    const text = pages.join(' ');

    expect(pages.length).toBeGreaterThan(5);
    for (let n = 0; n < 300; n++) expect(text).toContain(`Broken book ${String(n).padStart(3, '0')} Author ${n % 5} reason number ${n}`);
    for (const [i, page] of pages.entries()) expect(page).toContain(`Page ${i + 1} of ${pages.length}`);
    // Every page the table runs onto starts with its head.
    for (const page of pages.slice(1)) expect(page).toContain('INDEX TITLE AUTHOR REASON');
  });

  it('gives one timeline section and one failure table per request', async () => {
    const first = request(failures(2, (n) => `First ${n}`));
    const second = request([], { inserted: 7, durationMs: 850 });
    const third = request(failures(1, () => 'Third'));
    const pdf = await renderReportPdf(report([first, second, third]));
    const text = (await pdfPages(pdf)).join(' ');
    expectOnlyEmbeddedFonts(pdf);

    expect(text).toContain('REQUEST IDS (3)');
    for (const [n, r] of [first, second, third].entries()) expect(text).toContain(`Request ${n + 1} of 3 ${r.requestId}`);
    expect(text).toContain('850 ms');
    expect(text).toContain(`${first.requestId} · 2 failed`);
    expect(text).toContain(`${third.requestId} · 1 failed`);
    expect(text).not.toContain(`${second.requestId} · 0 failed`);
  });

  it('prints Cyrillic, Greek and accented titles with embedded fonts, and survives scripts it has no font for', async () => {
    const titles = [
      'Война и мир',
      'Преступление и наказание',
      'Ἰλιάς',
      'Οδύσσεια',
      'Les Misérables',
      'Dvořák: Słowa',
      'Tiếng Việt',
      'Cafe\u0301 au lait',
    ];
    const items: { index: number; title: string; author: string | null; reason: string }[] = titles.map((title, n) => ({
      index: n,
      title,
      author: 'Лев Толстой',
      reason: 'duplicate ISBN',
    }));
    items.push({ index: 99, title: '吾輩は猫である 📚', author: null, reason: 'duplicate ISBN' });
    const pdf = await renderReportPdf(report([request(items)]));
    const text = (await pdfPages(pdf)).join(' ');

    for (const title of titles) expect(text).toContain(title.normalize('NFC'));
    expect(text).toContain('Лев Толстой');
    // No font covers CJK or emoji: they become U+FFFD rather than Helvetica's garbage.
    expect(text).toContain('\uFFFD'.repeat(7));
    expectOnlyEmbeddedFonts(pdf);
  });

  it('refuses data it cannot show, naming the field, rather than print a wrong time or a blank', async () => {
    await expect(renderReportPdf(report([request([])], { timeZone: 'Mars/Olympus_Mons' }))).rejects.toThrow(RangeError);
    const badItem = { index: 1, title: 42, author: null, reason: 'x' } as unknown as FailedItem;
    await expect(renderReportPdf(report([request([badItem])]))).rejects.toThrow(/^report data: requests\[0\]\.failedItems\[0\]\.title /);
    await expect(renderReportPdf({} as ReportData)).rejects.toThrow('report data: reportId is required');
  });
});

describe('createPdfRenderer', () => {
  let renderer: PdfRenderer | undefined;
  afterEach(async () => {
    await renderer?.close();
    renderer = undefined;
  });

  it('renders in a worker thread the same document as an in-process render', async () => {
    renderer = createPdfRenderer();
    const data = report([request(failures(60))]);
    const [pooled, local] = await Promise.all([renderer.render(data), renderReportPdf(data)]);

    expect(Buffer.isBuffer(pooled)).toBe(true);
    expect(pooled.subarray(0, 5).toString()).toBe('%PDF-');
    expect(await pdfPages(pooled)).toEqual(await pdfPages(local));
  });

  it('rejects a render with bad input and keeps the same thread working', async () => {
    renderer = createPdfRenderer();
    await expect(renderer.render({} as ReportData)).rejects.toMatchObject({
      code: 'PDF_RENDER_FAILED',
      message: 'PDF render failed: report data: reportId is required',
    });
    await expect(renderer.render({ ...report([]), timeZone: 'Nowhere/Land' })).rejects.toMatchObject({ code: 'PDF_RENDER_FAILED' });
    const uncloneable = { ...report([]), toJSON: () => 'functions cannot cross threads' } as ReportData;
    await expect(renderer.render(uncloneable)).rejects.toMatchObject({ code: 'PDF_RENDER_FAILED' });

    const [page] = await pdfPages(await renderer.render(report([request([])])));
    expect(page).toContain('alice_reader');
    expect(renderer.stats()).toMatchObject({ threadsStarted: 1, threadsRunning: 1, failures: 3 });
  });

  it('replaces its thread after recycleAfter renders', async () => {
    renderer = createPdfRenderer({ recycleAfter: 3 });
    const data = report([request(failures(3))]);
    const pdfs: Buffer[] = [];
    for (let n = 0; n < 7; n++) pdfs.push(await renderer.render(data));
    for (const pdf of pdfs) expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect((await pdfPages(pdfs[6]!)).join(' ')).toContain('Broken book 002');
    // Renders 1-3 on the first thread, 4-6 on the second, 7 on the third.
    expect(renderer.stats()).toMatchObject({ threadsStarted: 3, threadsRunning: 1, renders: 7, failures: 0 });
  });

  it('replaces a thread whose heap has grown past recycleHeapMb, whatever its count', async () => {
    // Any thread that has rendered holds more than 1 MB of heap: each render gets a fresh thread.
    renderer = createPdfRenderer({ recycleHeapMb: 1 });
    const data = report([request(failures(2))]);
    for (let n = 0; n < 3; n++) expect((await renderer.render(data)).subarray(0, 5).toString()).toBe('%PDF-');
    expect(renderer.stats()).toMatchObject({ threadsStarted: 3, renders: 3, failures: 0 });
  });

  it('renders side by side up to its concurrency', async () => {
    renderer = createPdfRenderer({ concurrency: 2 });
    const pdfs = await Promise.all(
      Array.from({ length: 4 }, (_, n) => renderer!.render(report([request(failures(1, () => `Parallel ${n}`))]))),
    );
    for (const [n, pdf] of pdfs.entries()) expect((await pdfPages(pdf)).join(' ')).toContain(`Parallel ${n}`);
    expect(renderer.stats()).toMatchObject({ threadsStarted: 2, renders: 4 });
  });

  it('ends a render that hangs past timeoutMs and carries on with a fresh thread', async () => {
    renderer = createPdfRenderer({ timeoutMs: 6_000 });
    // Several thousand rows take far longer than six seconds; a one-page report far less, even in a fresh thread.
    await expect(renderer.render(report([request(failures(6_000))]))).rejects.toMatchObject({ code: 'PDF_RENDER_TIMEOUT' });
    const [page] = await pdfPages(await renderer.render(report([request([])])));
    expect(page).toContain('alice_reader');
    expect(renderer.stats()).toMatchObject({ threadsStarted: 2, threadsRunning: 1 });
  }, 20_000);

  it('refuses renders once closed', async () => {
    const closing = createPdfRenderer();
    const started = closing.render(report([request([])]));
    await closing.close();
    await expect(started).resolves.toBeInstanceOf(Buffer);
    await expect(closing.render(report([]))).rejects.toMatchObject({ code: 'PDF_RENDERER_CLOSED' });
    expect(closing.stats().threadsRunning).toBe(0);
  });
});
