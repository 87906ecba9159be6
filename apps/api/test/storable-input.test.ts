// What passes validation must be storable and comparable: text Postgres and mail can carry, ids in
// the form Postgres' uuid takes, versions within the int4 column. Anything else is a 400 (or a 412
// for an If-Match no version can meet), never a 500, and nothing is stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, addBook, signup, startApi, type TestUser } from './helpers.js';

let h: ApiHarness;
let alice: TestUser;
beforeAll(async () => {
  h = await startApi('storable-input');
  alice = await signup(h.app);
});
afterAll(() => h?.close());

const bookCount = async () => Number((await h.app.sql`select count(*)::int as n from books`)[0]!.n);
const userCount = async () => Number((await h.app.sql`select count(*)::int as n from users`)[0]!.n);

// Sent as raw JSON text: a lone surrogate must arrive as one, which JSON.stringify would escape anyway.
const rawJson = (value: string) => JSON.stringify(value);

const FORBIDDEN: [string, string][] = [
  ['NUL', '\\u0000'],
  ['a lone high surrogate', '\\ud800'],
  ['a lone low surrogate', '\\udfff'],
  ['a newline', '\\n'],
  ['a tab', '\\t'],
  ['a carriage return', '\\r'],
  ['ESC', '\\u001b'],
  ['DEL', '\\u007f'],
  ['a C1 control (NEL)', '\\u0085'],
];

describe('text fields', () => {
  it.each(FORBIDDEN)('refuses %s in any text field of POST /books with a 400 naming the field', async (_what, escaped) => {
    const before = await bookCount();
    for (const field of ['title', 'author', 'genre', 'isbn']) {
      const book: Record<string, string> = { title: '"A title"', author: '"An author"' };
      book[field] = `"x${escaped}y"`;
      const payload = `{${Object.entries(book)
        .map(([k, v]) => `"${k}":${v}`)
        .join(',')}}`;
      const res = await h.app.inject({
        method: 'POST',
        url: '/books',
        headers: { ...alice.auth, 'content-type': 'application/json' },
        payload,
      });
      expect(res.statusCode, `${field}: ${res.body}`).toBe(400);
      const body = res.json();
      expect(body).toMatchObject({ success: false, code: 'VALIDATION_ERROR' });
      expect(body.details).toContainEqual({ path: `body:/${field}`, message: expect.stringMatching(/control characters|surrogates/) });
    }
    expect(await bookCount()).toBe(before);
  });

  it('accepts letters beyond the BMP, accents and CJK (the patterns run in unicode mode)', async () => {
    const book = await addBook(h.app, alice, { title: 'Les Misérables 📚 𝔇𝔲𝔫𝔢', author: '村上 春樹', genre: 'Роман' });
    expect(book).toMatchObject({ title: 'Les Misérables 📚 𝔇𝔲𝔫𝔢', author: '村上 春樹', genre: 'Роман' });
  });

  it('refuses NUL and a lone surrogate in PUT /books/:id, leaving the book as it was', async () => {
    const book = await addBook(h.app, alice, { title: 'Untouched', author: 'A' });
    for (const escaped of ['\\u0000', '\\udbff']) {
      const res = await h.app.inject({
        method: 'PUT',
        url: `/books/${book.id}`,
        headers: { ...alice.auth, 'content-type': 'application/json' },
        payload: `{"title":"x${escaped}"}`,
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().details).toContainEqual(expect.objectContaining({ path: 'body:/title' }));
    }
    const after = await h.app.inject({ method: 'GET', url: `/books/${book.id}`, headers: alice.auth });
    expect(after.json().data).toMatchObject({ title: 'Untouched', version: 1 });
  });

  it.each(['%00', 'a%00b', '%C2%85', '%7F', '%0A'])('answers GET /books?search=%s with a 400, never a 500', async (search) => {
    const res = await h.app.inject({ method: 'GET', url: `/books?search=${search}`, headers: alice.auth });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({
      success: false,
      code: 'VALIDATION_ERROR',
      details: [expect.objectContaining({ path: 'querystring:/search' })],
    });
  });
});

describe('credentials', () => {
  const post = (url: string, payload: string) =>
    h.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });

  it('answers POST /auth/login with NUL or a lone surrogate in the email or password with a 400', async () => {
    for (const [field, payload] of [
      ['email', `{"email":"a\\u0000@example.com","password":"whatever1"}`],
      ['password', `{"email":${rawJson(alice.email)},"password":"pass\\u0000word"}`],
      ['password', `{"email":${rawJson(alice.email)},"password":"pass\\ud800word"}`],
      ['email', `{"email":"a\\ud800@example.com","password":"whatever1"}`],
    ] as const) {
      const res = await post('/auth/login', payload);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().details).toContainEqual(expect.objectContaining({ path: `body:/${field}` }));
    }
  });

  it('refuses a password with NUL or a lone surrogate at signup, and stores no account', async () => {
    const before = await userCount();
    for (const password of ['pass\\u0000word', 'pass\\udc00word']) {
      const res = await post('/auth/signup', `{"username":"nul_pw","email":"nul_pw@example.com","password":"${password}"}`);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR', details: [expect.objectContaining({ path: 'body:/password' })] });
    }
    expect(await userCount()).toBe(before);
  });

  it('takes any other character in a password, tabs, newlines and emoji included, and logs in with it', async () => {
    const password = 'tab\there\nnewline 🔑 ü\u0085';
    const user = await signup(h.app, { password });
    const res = await h.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password } });
    expect(res.statusCode).toBe(200);
  });
});

describe('ids and versions', () => {
  it('answers 400 for a book id written as urn:uuid on every /books/:id route, and changes nothing', async () => {
    const book = await addBook(h.app, alice, { title: 'By id', author: 'A' });
    const before = await bookCount();
    for (const id of [`urn:uuid:${book.id}`, `{${book.id}}`, book.id.replaceAll('-', ''), `${book.id}0`]) {
      for (const [method, payload] of [['GET'], ['PUT', { title: 'Changed' }], ['DELETE']] as const) {
        const res = await h.app.inject({
          method,
          url: `/books/${encodeURIComponent(id)}`,
          headers: alice.auth,
          ...(payload ? { payload } : {}),
        });
        expect(res.statusCode, `${method} ${id}: ${res.body}`).toBe(400);
        expect(res.json()).toMatchObject({ success: false, code: 'VALIDATION_ERROR', error: expect.stringMatching(/must be a UUID/) });
      }
    }
    expect(await bookCount()).toBe(before);
    expect((await h.app.inject({ method: 'GET', url: `/books/${book.id.toUpperCase()}`, headers: alice.auth })).statusCode).toBe(200);
  });

  it('answers 400 for a bulk request id written as urn:uuid', async () => {
    const res = await h.app.inject({ method: 'GET', url: `/books/bulk/urn:uuid:${crypto.randomUUID()}`, headers: alice.auth });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ success: false, code: 'VALIDATION_ERROR' });
  });

  it.each(['"99999999999"', '"2147483648"', '"1e308"', '1e308', '"-1"', '"0x1"', '"1.0"', '""', 'W/"99999999999"'])(
    'answers If-Match: %s with 412 (no version can match it) and leaves the book unchanged',
    async (ifMatch) => {
      const book = await addBook(h.app, alice, { title: 'Versioned', author: 'A' });
      const res = await h.app.inject({
        method: 'PUT',
        url: `/books/${book.id}`,
        headers: { ...alice.auth, 'if-match': ifMatch },
        payload: { title: 'Overwritten' },
      });
      expect(res.statusCode, res.body).toBe(412);
      expect(res.json()).toMatchObject({ success: false, code: 'PRECONDITION_FAILED' });
      const after = await h.app.inject({ method: 'GET', url: `/books/${book.id}`, headers: alice.auth });
      expect(after.json().data).toMatchObject({ title: 'Versioned', version: 1 });
    },
  );

  it('still honours a matching strong or weak ETag', async () => {
    const book = await addBook(h.app, alice, { title: 'Versioned', author: 'A' });
    const put = (ifMatch: string, title: string) =>
      h.app.inject({ method: 'PUT', url: `/books/${book.id}`, headers: { ...alice.auth, 'if-match': ifMatch }, payload: { title } });
    expect((await put('"1"', 'Strong')).statusCode).toBe(200);
    expect((await put('W/"2"', 'Weak')).statusCode).toBe(200);
  });
});
