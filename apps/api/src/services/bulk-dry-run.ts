// POST /books/bulk?dryRun=true: the verdict the import would get for every item, without queueing
// anything. Beyond the checks of a submit, it finds what the bulk worker would refuse: an ISBN
// repeated within the import (the first one goes in) and one already in the caller's collection,
// with the worker's own wording.
import type { BulkVerdict } from '@books/core/schemas';
import type { CheckedItem } from './bulk-items.js';

export interface DryRunResult {
  submitted: number;
  valid: number;
  invalid: number;
  items: BulkVerdict[];
}

export async function dryRunVerdicts(
  checked: AsyncIterable<CheckedItem> | Iterable<CheckedItem>,
  ownedIsbns: (isbns: string[]) => Promise<Set<string>>,
): Promise<DryRunResult> {
  const items: BulkVerdict[] = [];
  // ISBN → the verdict of the first item that has it (the one that would go in).
  const firstWith = new Map<string, BulkVerdict>();
  for await (const item of checked) {
    if (!item.ok) {
      const { index, row, column, reason } = item.failure;
      items.push({ index, ok: false, reason, ...(row === undefined ? {} : { row }), ...(column === undefined ? {} : { column }) });
      continue;
    }
    const { index, row, book } = item.item;
    const verdict: BulkVerdict = { index, ok: true, ...(row === undefined ? {} : { row }) };
    const isbn = book.isbn;
    if (isbn) {
      const first = firstWith.get(isbn);
      if (first)
        Object.assign(verdict, { ok: false, column: 'isbn', reason: `duplicate ISBN ${isbn}: same as item ${first.index} of this import` });
      else firstWith.set(isbn, verdict);
    }
    items.push(verdict);
  }
  const owned = await ownedIsbns([...firstWith.keys()]);
  for (const isbn of owned) {
    Object.assign(firstWith.get(isbn)!, { ok: false, column: 'isbn', reason: `duplicate ISBN ${isbn}: already in your collection` });
  }
  const valid = items.filter((verdict) => verdict.ok).length;
  return { submitted: items.length, valid, invalid: items.length - valid, items };
}
