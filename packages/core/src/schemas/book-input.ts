// Rules a book must meet beyond its JSON shape, shared by POST/PUT /books and the bulk import.
import Compile from 'typebox/compile';
import { type BookInput, BookInputSchema, type BookUpdate } from './books.js';
import { type ErrorDetail, patternMessage } from './common.js';
import { normalizeIsbn } from './isbn.js';

export type Normalized<T> = { ok: true; value: T } | { ok: false; details: ErrorDetail[] };

/** Trims text, normalises the ISBN and checks what JSON Schema cannot (checksum, year against today). */
export function normalizeBookFields<T extends BookUpdate>(input: T, now = new Date()): Normalized<T> {
  const out: BookUpdate = {};
  const details: ErrorDetail[] = [];
  if (input.title !== undefined) out.title = input.title.trim();
  if (input.author !== undefined) out.author = input.author.trim();
  if (input.genre !== undefined) out.genre = input.genre === null ? null : input.genre.trim() || null;
  if (input.isbn !== undefined) {
    const raw = input.isbn === null ? '' : input.isbn.trim();
    if (raw === '') out.isbn = null;
    else {
      const isbn = normalizeIsbn(raw);
      if (isbn) out.isbn = isbn;
      else details.push({ path: '/isbn', message: 'is not a valid ISBN-10 or ISBN-13 (checksum failed)' });
    }
  }
  if (input.publishedYear !== undefined) {
    const latest = now.getUTCFullYear() + 1;
    if (input.publishedYear !== null && input.publishedYear > latest) {
      details.push({ path: '/publishedYear', message: `must not be later than ${latest}` });
    } else out.publishedYear = input.publishedYear;
  }
  return details.length ? { ok: false, details } : { ok: true, value: out as T };
}

const bookInputValidator = Compile(BookInputSchema);
const BOOK_FIELDS = Object.keys(BookInputSchema.properties);

/** Why an item is not a book: a readable reason, and the field it is first about (for a file's column). */
export type BookInputFailure = { ok: false; reason: string; field?: string };

/**
 * Validates one untrusted item (a bulk import entry): same schema and rules as POST /books,
 * unknown properties dropped. Returns a readable reason instead of throwing.
 */
export function parseBookInput(item: unknown, now = new Date()): { ok: true; value: BookInput } | BookInputFailure {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return { ok: false, reason: 'must be an object with title and author' };
  }
  // Only the fields a client may set are kept (what Value.Clean does, at a fraction of its cost:
  // it took ~70 µs a book, most of a 10,000-book POST /books/bulk).
  const cleaned: Record<string, unknown> = {};
  for (const field of BOOK_FIELDS) if (Object.hasOwn(item, field)) cleaned[field] = (item as Record<string, unknown>)[field];
  if (!bookInputValidator.Check(cleaned)) {
    const errors = bookInputValidator.Errors(cleaned);
    const reasons = errors.map(describeError);
    return withField({ ok: false, reason: [...new Set(reasons)].slice(0, 3).join('; ') }, errors[0] && errorField(errors[0]));
  }
  const normalized = normalizeBookFields(cleaned, now);
  if (!normalized.ok)
    return withField(
      { ok: false, reason: normalized.details.map((d) => `${d.path.slice(1)} ${d.message}`).join('; ') },
      normalized.details[0]?.path.slice(1),
    );
  return { ok: true, value: normalized.value };
}

const withField = (failure: BookInputFailure, field: string | undefined): BookInputFailure => (field ? { ...failure, field } : failure);

function errorField(error: { instancePath: string; keyword: string; params?: unknown }): string | undefined {
  if (error.keyword === 'required') return (error.params as { requiredProperties?: string[] } | undefined)?.requiredProperties?.[0];
  return error.instancePath.split('/')[1] || undefined;
}

function describeError(error: { instancePath: string; keyword: string; message: string; params?: unknown }): string {
  const field = error.instancePath.split('/')[1];
  if (error.keyword === 'required') {
    const missing = (error.params as { requiredProperties?: string[] } | undefined)?.requiredProperties;
    return missing?.length ? `${missing.join(', ')} is required` : 'a required field is missing';
  }
  if (error.keyword === 'minLength') return `${field} must not be empty`;
  if (error.keyword === 'pattern') {
    const message = patternMessage((error.params as { pattern?: unknown } | undefined)?.pattern) ?? 'has an invalid form';
    return `${field} ${message}`;
  }
  return field ? `${field} ${error.message}` : error.message;
}
