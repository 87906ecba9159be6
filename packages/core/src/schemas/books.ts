import Type, { type Static } from 'typebox';
import { Nullable, SingleLineText, Timestamp } from './common.js';

export const TITLE_MAX = 500;
export const AUTHOR_MAX = 300;
export const GENRE_MAX = 100;

// Every text field is one line of storable text (see SingleLineText): Postgres and mail carry it.
const Title = SingleLineText({ nonBlank: true, minLength: 1, maxLength: TITLE_MAX, description: 'one line, trimmed; required' });
const Author = SingleLineText({ nonBlank: true, minLength: 1, maxLength: AUTHOR_MAX, description: 'one line, trimmed; required' });
const Isbn = SingleLineText({
  maxLength: 32,
  description: 'ISBN-10 or ISBN-13, checksum verified; hyphens and spaces are accepted and removed',
});
const PublishedYear = Type.Integer({ minimum: 1, maximum: 2100, description: 'not later than next year' });
const Genre = SingleLineText({ maxLength: GENRE_MAX, description: 'one line, trimmed' });

/**
 * What a client may set on a book. Unknown properties (id, userId, version, timestamps…) are
 * dropped, never applied, so a client can send back the whole book it received.
 */
export const BookInputSchema = Type.Object(
  {
    title: Title,
    author: Author,
    isbn: Type.Optional(Nullable(Isbn)),
    publishedYear: Type.Optional(Nullable(PublishedYear)),
    genre: Type.Optional(Nullable(Genre)),
  },
  { additionalProperties: false },
);
export type BookInput = Static<typeof BookInputSchema>;

/** PUT: any subset of the fields; `null` clears an optional one. */
export const BookUpdateSchema = Type.Object(
  {
    title: Type.Optional(Title),
    author: Type.Optional(Author),
    isbn: Type.Optional(Nullable(Isbn)),
    publishedYear: Type.Optional(Nullable(PublishedYear)),
    genre: Type.Optional(Nullable(Genre)),
  },
  { additionalProperties: false },
);
export type BookUpdate = Static<typeof BookUpdateSchema>;

export const BookSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  userId: Type.String({ format: 'uuid' }),
  title: Type.String(),
  author: Type.String(),
  isbn: Nullable(Type.String()),
  publishedYear: Nullable(Type.Integer()),
  genre: Nullable(Type.String()),
  version: Type.Integer({ description: 'increments on every change; the ETag' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Book = Static<typeof BookSchema>;

export const LIST_LIMIT_DEFAULT = 100;
export const LIST_LIMIT_MAX = 1000;

export const BookListQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: LIST_LIMIT_MAX, default: LIST_LIMIT_DEFAULT }),
  offset: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 }),
  search: Type.Optional(SingleLineText({ maxLength: 200, description: 'case-insensitive substring of the title or the author' })),
});
export type BookListQuery = Static<typeof BookListQuerySchema>;

/** The list as cached: everything but `success` and `source`, which the route adds. */
export const BookPageSchema = Type.Object({
  count: Type.Integer({ description: 'books in this page' }),
  data: Type.Array(BookSchema),
  total: Type.Integer({ description: 'books matching the query in all pages' }),
  limit: Type.Integer(),
  offset: Type.Integer(),
});
export type BookPage = Static<typeof BookPageSchema>;

export const BookListResponseSchema = Type.Object({
  success: Type.Literal(true),
  source: Type.Union([Type.Literal('cache'), Type.Literal('database')]),
  count: Type.Integer(),
  data: Type.Array(BookSchema),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
});
export type BookListResponse = Static<typeof BookListResponseSchema>;
