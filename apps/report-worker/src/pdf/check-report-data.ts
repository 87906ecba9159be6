// Checks report data before rendering. An exception inside a react-pdf component does not reach the
// caller as itself: React unmounts the tree and react-pdf then fails with "Cannot read properties of
// null (reading 'props')". So every value a component formats is checked here, with a message that
// names the field. (ReportData has no TypeBox schema yet; with one, this would be a Compile() of it.)
import type { ReportData } from '../report-data.js';
import { formatDateTime } from './format.js';

function fail(path: string, expected: string): never {
  throw new TypeError(`report data: ${path} must be ${expected}`);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

function text(value: unknown, path: string): void {
  if (typeof value !== 'string') fail(path, 'a string');
}

function nullableText(value: unknown, path: string): void {
  if (value !== null && typeof value !== 'string') fail(path, 'a string or null');
}

function count(value: unknown, path: string): void {
  if (!Number.isInteger(value) || (value as number) < 0) fail(path, 'a non-negative integer');
}

function timestamp(value: unknown, path: string, nullable = false): void {
  if (nullable && value === null) return;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) fail(path, nullable ? 'an ISO timestamp or null' : 'an ISO timestamp');
}

export function checkReportData(data: unknown): asserts data is ReportData {
  if (!isObject(data)) fail('the report', 'an object');
  text(data.reportId, 'reportId');
  timestamp(data.generatedAt, 'generatedAt');
  text(data.timeZone, 'timeZone');
  // Throws a RangeError for a zone Intl does not know.
  formatDateTime(data.generatedAt as string, data.timeZone as string);
  text(data.systemName, 'systemName');
  if (!isObject(data.company)) fail('company', 'an object');
  text(data.company.name, 'company.name');
  text(data.company.address, 'company.address');
  if (!isObject(data.user)) fail('user', 'an object');
  text(data.user.username, 'user.username');
  text(data.user.email, 'user.email');
  if (!isObject(data.totals)) fail('totals', 'an object');
  for (const key of ['submitted', 'inserted', 'failed'] as const) count(data.totals[key], `totals.${key}`);
  if (typeof data.totals.successRate !== 'number' || !Number.isFinite(data.totals.successRate)) fail('totals.successRate', 'a number');
  if (!Array.isArray(data.requests)) fail('requests', 'an array');
  data.requests.forEach((request: unknown, i) => {
    const at = `requests[${i}]`;
    if (!isObject(request)) fail(at, 'an object');
    text(request.requestId, `${at}.requestId`);
    for (const key of ['submitted', 'inserted', 'failed'] as const) count(request[key], `${at}.${key}`);
    timestamp(request.queuedAt, `${at}.queuedAt`);
    timestamp(request.processingStartedAt, `${at}.processingStartedAt`, true);
    timestamp(request.processedAt, `${at}.processedAt`, true);
    if (request.durationMs !== null && typeof request.durationMs !== 'number') fail(`${at}.durationMs`, 'a number or null');
    if (!Array.isArray(request.failedItems)) fail(`${at}.failedItems`, 'an array');
    request.failedItems.forEach((item: unknown, j) => {
      const itemAt = `${at}.failedItems[${j}]`;
      if (!isObject(item)) fail(itemAt, 'an object');
      count(item.index, `${itemAt}.index`);
      nullableText(item.title, `${itemAt}.title`);
      nullableText(item.author, `${itemAt}.author`);
      text(item.reason, `${itemAt}.reason`);
    });
  });
}
