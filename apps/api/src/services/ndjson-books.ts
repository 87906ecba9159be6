// An NDJSON upload read as it arrives: one JSON book a line, empty lines skipped. A line that is
// not JSON fails alone, with its line number; a line too long to be a book is dropped as it streams,
// never held whole.
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { type FileRow, MAX_ROW_BYTES } from './file-rows.js';

const sameField = (field: string) => field;

export async function* ndjsonRows(body: Readable): AsyncGenerator<FileRow> {
  const decoder = new StringDecoder('utf8');
  let line = 0;
  let pending = '';
  // The current line passed MAX_ROW_BYTES: the rest of it is skipped up to its newline.
  let overlong = false;
  const finish = (text: string): FileRow | null => {
    line++;
    // A line that arrived whole in one chunk is measured here; one spread over chunks, as it streams.
    if (overlong || Buffer.byteLength(text) > MAX_ROW_BYTES) {
      overlong = false;
      return { kind: 'unreadable', row: line, reason: `is longer than ${MAX_ROW_BYTES} bytes` };
    }
    const trimmed = (line === 1 ? text.replace(/^\uFEFF/, '') : text).trim();
    if (trimmed === '') return null;
    let item: unknown;
    try {
      item = JSON.parse(trimmed);
    } catch (err) {
      return {
        kind: 'unreadable',
        row: line,
        reason: `is not JSON: ${(err as Error).message}`,
        asWritten: { line: trimmed.slice(0, 1000) },
      };
    }
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return {
        kind: 'unreadable',
        row: line,
        reason: 'must be an object with title and author',
        asWritten: { line: trimmed.slice(0, 1000) },
      };
    }
    return { kind: 'item', item: item as Record<string, unknown>, row: line, columnOf: sameField };
  };
  for await (const chunk of body) {
    let text = decoder.write(chunk as Buffer);
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n')) {
      const row = finish(overlong ? '' : pending + text.slice(0, newline));
      pending = '';
      text = text.slice(newline + 1);
      if (row) yield row;
    }
    if (overlong) continue;
    pending += text;
    if (Buffer.byteLength(pending) > MAX_ROW_BYTES) {
      overlong = true;
      pending = '';
    }
  }
  pending += decoder.end();
  const last = overlong || pending.trim() !== '' ? finish(pending) : null;
  if (last) yield last;
}
