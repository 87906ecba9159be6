// A file upload (CSV or NDJSON) staged as it is parsed: each row is checked like a JSON item, and
// every STAGE_BATCH_ROWS rows go to the request's staging in Redis, so a million-row file never sits
// in memory and the parser waits (backpressure) while a batch is written.
import type { StagedSubmission, ValidItem } from '@books/core/bulk';
import type { FailedItem } from '@books/core/schemas';
import { AppError } from '../errors.js';
import { checkItem, failedItem } from './bulk-items.js';
import { type FileRow, unreadableFile } from './file-rows.js';

/** Rows per staged batch: one Redis command each, a few hundred kilobytes at most. */
export const STAGE_BATCH_ROWS = 1000;

export const tooManyRows = (maxRows: number) =>
  new AppError(
    413,
    'BULK_TOO_MANY_ROWS',
    `The file has more than ${maxRows} rows (BULK_MAX_ROWS); nothing was queued. Split it into smaller files.`,
  );

/** Stages every row; answers how many were submitted. Throws (and stages no more) on the first row past maxRows. */
export async function stageFileRows(
  rows: AsyncIterable<FileRow>,
  staged: StagedSubmission,
  options: { maxRows: number; now: Date },
): Promise<number> {
  let submitted = 0;
  let valid: ValidItem[] = [];
  let invalid: FailedItem[] = [];
  for await (const row of rows) {
    if (submitted === options.maxRows) throw tooManyRows(options.maxRows);
    const index = submitted++;
    if (row.kind === 'unreadable') {
      invalid.push(failedItem(row.asWritten, index, row.reason, { row: row.row, column: row.column }));
    } else {
      const checked = checkItem(row.item, index, options.now, row);
      if (checked.ok) valid.push(checked.item);
      else invalid.push(checked.failure);
    }
    if (valid.length + invalid.length >= STAGE_BATCH_ROWS) {
      await staged.stage(valid, invalid);
      valid = [];
      invalid = [];
    }
  }
  if (submitted === 0) throw unreadableFile('BULK_EMPTY', 'The file has no rows to import');
  await staged.stage(valid, invalid);
  return submitted;
}
