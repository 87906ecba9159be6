// What the file parsers (CSV, NDJSON) hand the import: one entry per data row, in file order,
// either the row's fields as an item to check or why the row could not be read at all.

import { AppError } from '../errors.js';
import type { ItemPlace } from './bulk-items.js';

export type FileRow =
  | ({ kind: 'item'; item: Record<string, unknown> } & ItemPlace)
  | {
      kind: 'unreadable';
      row: number;
      reason: string;
      column?: string;
      /** What could be read of it, by column, for the failures CSV. */
      asWritten?: Record<string, unknown>;
    };

/** The longest row (CSV) or line (NDJSON) read: a book's fields fit in a few kilobytes. */
export const MAX_ROW_BYTES = 64 * 1024;

/** A file that cannot be imported at all (no header, no title column…): a 400 and nothing queued. */
export const unreadableFile = (code: string, message: string) => new AppError(400, code, message);
