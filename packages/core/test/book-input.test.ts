import { describe, expect, it } from 'vitest';
import { parseBookInput } from '../src/schemas/book-input.js';
import { normalizeIsbn } from '../src/schemas/isbn.js';

describe('normalizeIsbn', () => {
  it.each([
    ['978-0-7432-7356-5', '9780743273565'],
    ['0-306-40615-2', '0306406152'],
    ['0 8044 2957 x', '080442957X'],
  ])('accepts %s as %s', (input, expected) => expect(normalizeIsbn(input)).toBe(expected));

  it.each(['978-0-7432-7356-4', '0-306-40615-3', '12345', 'X123456789', 'abcdefghij'])('rejects %s', (input) =>
    expect(normalizeIsbn(input)).toBeNull(),
  );
});

describe('parseBookInput', () => {
  it('trims, normalises and drops unknown properties', () => {
    expect(parseBookInput({ title: ' Dune ', author: 'Frank Herbert ', isbn: '978-0-441-17271-9', id: 'x', extra: true })).toEqual({
      ok: true,
      value: { title: 'Dune', author: 'Frank Herbert', isbn: '9780441172719' },
    });
  });

  it.each([
    [null, /must be an object/],
    [[1, 2], /must be an object/],
    [{ author: 'A' }, /title is required/],
    [{ title: '  ', author: 'A' }, /title must not be empty/],
    [{ title: 'T', author: 'A', isbn: '123' }, /isbn is not a valid ISBN/],
    [{ title: 'T', author: 'A', publishedYear: 'last year' }, /publishedYear/],
    [{ title: 'T', author: 'A', publishedYear: 3000 }, /publishedYear/],
  ])('explains why %j is invalid', (item, reason) => {
    const result = parseBookInput(item);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});

describe('parseBookInput and characters Postgres or a mail client cannot carry', () => {
  it.each([
    ['title', { title: 'Du\u0000ne', author: 'A' }],
    ['author', { title: 'T', author: 'A\u0000' }],
    ['genre', { title: 'T', author: 'A', genre: '\u0000' }],
    ['isbn', { title: 'T', author: 'A', isbn: '978\u0000' }],
    ['title', { title: 'lone high \ud800 half', author: 'A' }],
    ['author', { title: 'T', author: 'lone low \udc00 half' }],
    ['title', { title: 'two\nlines', author: 'A' }],
    ['title', { title: 'a\ttab', author: 'A' }],
    ['genre', { title: 'T', author: 'A', genre: 'bell\u0007' }],
    ['title', { title: 'del\u007f', author: 'A' }],
    ['author', { title: 'T', author: 'c1\u0085next line' }],
  ])('fails an item whose %s holds a forbidden character, naming the field', (field, item) => {
    const result = parseBookInput(item);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(new RegExp(`^${field} must .*(control characters|unpaired surrogates)`));
  });

  it('keeps letters beyond the BMP, accents and non-breaking spaces (the pattern runs in unicode mode)', () => {
    const item = { title: 'Les Misérables 📚 𝔇𝔲𝔫𝔢', author: '村上\u00a0春樹', genre: 'Роман' };
    expect(parseBookInput(item)).toEqual({ ok: true, value: item });
  });

  it('still calls a title of spaces empty', () => {
    const result = parseBookInput({ title: ' \u00a0 ', author: 'A' });
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/^title must not be empty/) });
  });
});
