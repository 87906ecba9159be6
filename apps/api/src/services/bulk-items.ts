// One submitted item of a bulk import, checked as POST /books checks a book: a valid item to queue,
// or a failed one with its reason, whether it came from a JSON array or a row of a file.
import type { ValidItem } from '@books/core/bulk';
import { type FailedItem, parseBookInput } from '@books/core/schemas';

export type CheckedItem = { ok: true; item: ValidItem } | { ok: false; failure: FailedItem };

/** Where an item sits in a file, for its failure: the row, the column a field came from, the row as written. */
export interface ItemPlace {
  row: number;
  columnOf: (field: string) => string;
  /** The row's cells by column name as written (a CSV's header), when they differ from the item's fields. */
  asWritten?: Record<string, unknown>;
}

export function checkItem(item: unknown, index: number, now: Date, place?: ItemPlace): CheckedItem {
  const parsed = parseBookInput(item, now);
  if (parsed.ok) return { ok: true, item: place ? { index, book: parsed.value, row: place.row } : { index, book: parsed.value } };
  const column = place && parsed.field ? place.columnOf(parsed.field) : undefined;
  return { ok: false, failure: failedItem(item, index, parsed.reason, place && { row: place.row, column, asWritten: place.asWritten }) };
}

/** A failed item: its fields as submitted (for the failures CSV), where it was, and why. */
export function failedItem(
  item: unknown,
  index: number,
  reason: string,
  place?: { row: number; column?: string | undefined; asWritten?: Record<string, unknown> | undefined },
): FailedItem {
  const submitted = submittedText(place?.asWritten ?? item);
  const { row, column } = place ?? {};
  return {
    index,
    title: textField(item, 'title'),
    author: textField(item, 'author'),
    reason,
    ...(row === undefined ? {} : { row }),
    ...(column === undefined ? {} : { column }),
    ...(submitted ? { submitted } : {}),
  };
}

/**
 * An invalid item's fields as text, for the failures CSV to echo (`submitted`): scalars as written,
 * anything nested as JSON, each cut to 1,000 characters, at most 50 fields. Null if not an object.
 */
export function submittedText(item: unknown): Record<string, string> | null {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return null;
  const fields = Object.entries(item as Record<string, unknown>)
    .slice(0, 50)
    .map(([key, value]): [string, string] => {
      const text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
      return [key.slice(0, 100), text.slice(0, 1000)];
    });
  return fields.length ? Object.fromEntries(fields) : null;
}

/** The title or author of an invalid item, if it had a usable one, for the report. */
function textField(item: unknown, field: 'title' | 'author'): string | null {
  const value = typeof item === 'object' && item !== null ? (item as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' && value.trim() ? value.trim().slice(0, 500) : null;
}
