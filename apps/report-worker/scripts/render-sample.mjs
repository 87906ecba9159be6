// Renders a realistic sample report to docs/sample-report.pdf and its first page to docs/sample-report.png.
// Run after the build: `pnpm --filter @books/report-worker build && node apps/report-worker/scripts/render-sample.mjs`.
// The PNG needs pdftoppm (Debian: apt-get install poppler-utils); without it only the PDF is written.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderReportPdf } from '../dist/pdf/render.js';

const docs = fileURLToPath(new URL('../../../docs/', import.meta.url));
const pdfPath = `${docs}sample-report.pdf`;
const pngBase = `${docs}sample-report`;

const at = (iso, seconds) => new Date(Date.parse(iso) + seconds * 1000).toISOString();

const failures = [
  [3, 'Corrupted Book', 'Unknown Author', 'isbn is not a valid ISBN-10 or ISBN-13'],
  [7, null, 'Jane Austen', 'title is required'],
  [12, 'Les Misérables', null, 'author is required'],
  [15, 'Война и мир', 'Лев Толстой', 'an ISBN 978-5-17-090335-2 is already in your library'],
  [21, 'Ἰλιάς', 'Όμηρος', 'publishedYear must be between 1450 and 2026'],
  [
    22,
    'Dvořák: A Biography in Letters, Sketches and Conversations with his Pupils in Prague and New York',
    'Zdeněk Łukasiewicz',
    'title must be at most 300 characters',
  ],
  [30, 'The Great Gatsby', 'F. Scott Fitzgerald', 'an ISBN 978-0-7432-7356-5 is already in your library'],
  [31, 'Moby-Dick', 'Herman Melville', 'genre must be one of Fiction, Non-Fiction, Poetry, Drama, Reference'],
  [44, 'Ulysses', 'James Joyce', 'publishedYear must be an integer'],
  [45, 'Don Quijote de la Mancha', 'Miguel de Cervantes', 'an ISBN 978-84-376-0494-7 is already in your library'],
];
const secondFailures = Array.from({ length: 9 }, (_, n) => [
  100 + n * 7,
  `Field Guide to Northern Birds, volume ${n + 1}`,
  n % 3 === 0 ? null : 'Ornithology Society',
  n % 2 === 0 ? 'isbn checksum does not match' : 'publisher is longer than 200 characters',
]);
const thirdFailures = Array.from({ length: 6 }, (_, n) => [
  n * 11 + 2,
  `Quarterly Review ${2019 + n}`,
  'Editorial Board',
  'database rejected the row: value too long for column "subtitle"',
]);

const toItems = (rows) => rows.map(([index, title, author, reason]) => ({ index, title, author, reason }));

const requests = [
  {
    requestId: '5b0c7d1e-9a4f-4c2e-8b13-2f6d9e0a7c41',
    submitted: 120,
    queuedAt: '2025-10-13T13:40:15.000Z',
    startedAfter: 124,
    durationMs: 135_400,
    failedItems: toItems(failures),
    failedItemsOmitted: 0,
  },
  {
    requestId: 'c81f0a52-3d7b-4e19-a6c4-7b95e2d1f008',
    submitted: 480,
    queuedAt: '2025-10-13T13:41:02.000Z',
    startedAfter: 77,
    durationMs: 412_900,
    failedItems: toItems(secondFailures),
    failedItemsOmitted: 0,
  },
  {
    requestId: 'e4a9b6c3-1f28-4d57-9e0b-58c3a7d6b2f9',
    submitted: 60,
    queuedAt: '2025-10-13T13:43:40.000Z',
    startedAfter: 38,
    durationMs: 850,
    failedItems: toItems(thirdFailures),
    failedItemsOmitted: 0,
  },
].map(({ startedAfter, durationMs, ...r }) => {
  const processingStartedAt = at(r.queuedAt, startedAfter);
  return {
    ...r,
    outcome: 'processed',
    failed: r.failedItems.length,
    inserted: r.submitted - r.failedItems.length,
    notProcessed: 0,
    failureReason: null,
    processingStartedAt,
    processedAt: new Date(Date.parse(processingStartedAt) + durationMs).toISOString(),
    failedAt: null,
    durationMs,
  };
});

const totals = requests.reduce(
  (t, r) => ({ submitted: t.submitted + r.submitted, inserted: t.inserted + r.inserted, failed: t.failed + r.failed }),
  {
    submitted: 0,
    inserted: 0,
    failed: 0,
  },
);

/** @type {import('../dist/report-data.js').ReportData} */
const data = {
  reportId: '3f9d2c7a-6e1b-4a80-b5d4-91c0e7f3a216',
  generatedAt: '2025-10-13T13:55:23.000Z',
  timeZone: 'Europe/London',
  systemName: 'Books Service',
  company: { name: 'Books Management Inc.', address: '123 Library Street, Book City, BC 12345' },
  user: { id: '0d6f3b8e-2c1a-4f57-8e9d-6a4b2c1e7f30', username: 'alice_reader', email: 'alice@example.com' },
  requests,
  totals: { ...totals, notProcessed: 0, failedRequests: 0, successRate: Math.round((totals.inserted / totals.submitted) * 1000) / 10 },
};

mkdirSync(docs, { recursive: true });
const pdf = await renderReportPdf(data);
writeFileSync(pdfPath, pdf);
console.log(`wrote ${pdfPath} (${pdf.length} bytes)`);
try {
  execFileSync('pdftoppm', ['-png', '-r', '110', '-f', '1', '-l', '1', '-singlefile', pdfPath, pngBase]);
  console.log(`wrote ${pngBase}.png`);
} catch (err) {
  console.warn(`no PNG: pdftoppm failed or is missing (${err.message})`);
}
