// A file upload (CSV or NDJSON) staged as it is parsed: each row is checked like a JSON item, and
// every STAGE_BATCH_ROWS rows go to the request's staging in Redis, so a million-row file never sits
// in memory and the parser waits (backpressure) while a batch is written.
import type { StagedSubmission, ValidItem } from '@books/core/bulk';
import type { FailedItem } from '@books/core/schemas';
import { AppError } from '../errors.js';
import { type CheckedItem, checkItem, failedItem } from './bulk-items.js';
import { type FileRow, unreadableFile } from './file-rows.js';

/** Rows per staged batch: one Redis command each, a few hundred kilobytes at most. */
export const STAGE_BATCH_ROWS = 1000;

export const tooManyRows = (maxRows: number, limitName = 'BULK_MAX_ROWS') =>
  new AppError(
    413,
    'BULK_TOO_MANY_ROWS',
    `The file has more than ${maxRows} rows (${limitName}); nothing was queued. Split it into smaller files.`,
  );

/**
 * Redis failed (or lost the staging) while rows were staged. Nothing is queued before the commit,
 * so whatever the error, the upload certainly queued nothing.
 */
export class StagingFailedError extends Error {
  constructor(override readonly cause: unknown) {
    super('the rows of an upload could not be staged');
  }
}

const stageOrFail = (staged: StagedSubmission, valid: ValidItem[], invalid: FailedItem[]) =>
  staged.stage(valid, invalid).catch((err: unknown) => {
    throw new StagingFailedError(err);
  });

/**
 * Every row of a file, checked as a JSON item is (an unreadable row fails alone). Throws on the
 * first row past maxRows, and at the end when the file had no row at all.
 */
export async function* checkedFileRows(
  rows: AsyncIterable<FileRow>,
  options: { maxRows: number; now: Date; limitName?: string },
): AsyncGenerator<CheckedItem> {
  let submitted = 0;
  for await (const row of rows) {
    if (submitted === options.maxRows) throw tooManyRows(options.maxRows, options.limitName);
    const index = submitted++;
    if (row.kind === 'unreadable')
      yield { ok: false, failure: failedItem(row.asWritten, index, row.reason, { row: row.row, column: row.column }) };
    else yield checkItem(row.item, index, options.now, row);
  }
  if (submitted === 0) throw unreadableFile('BULK_EMPTY', 'The file has no rows to import');
}

/** Stages every row; answers how many were submitted. Throws (and stages no more) on the first row past maxRows. */
export async function stageFileRows(
  rows: AsyncIterable<FileRow>,
  staged: StagedSubmission,
  options: { maxRows: number; now: Date },
): Promise<number> {
  let submitted = 0;
  let valid: ValidItem[] = [];
  let invalid: FailedItem[] = [];
  for await (const checked of checkedFileRows(rows, options)) {
    submitted++;
    if (checked.ok) valid.push(checked.item);
    else invalid.push(checked.failure);
    if (valid.length + invalid.length >= STAGE_BATCH_ROWS) {
      await stageOrFail(staged, valid, invalid);
      valid = [];
      invalid = [];
    }
  }
  await stageOrFail(staged, valid, invalid);
  return submitted;
}
