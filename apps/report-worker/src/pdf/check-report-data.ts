// Checks report data before rendering, with a message that names the field (see report-data.ts).
import Compile from 'typebox/compile';
import { type ReportData, ReportDataSchema } from '../report-data.js';
import { formatDateTime } from './format.js';

const validator = Compile(ReportDataSchema);

export function checkReportData(data: unknown): asserts data is ReportData {
  const [error] = validator.Errors(data);
  if (error) {
    const path = error.instancePath
      .replace(/^\//, '')
      .replace(/\/(\d+)(?=\/|$)/g, '[$1]')
      .replaceAll('/', '.');
    const missing = (error.params as { requiredProperties?: string[] } | undefined)?.requiredProperties?.[0];
    const field = missing ? [path, missing].filter(Boolean).join('.') : path || 'the report';
    throw new TypeError(`report data: ${field} ${missing ? 'is required' : error.message}`);
  }
  // Throws a RangeError for a zone Intl does not know.
  const valid = data as ReportData;
  formatDateTime(valid.generatedAt, valid.timeZone);
}
