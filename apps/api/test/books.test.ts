import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, addBook, signup, startApi, type TestUser } from './helpers.js';

let h: ApiHarness;
let alice: TestUser;
let bob: TestUser;
beforeAll(async () => {
  h = await startApi('books');
  [alice, bob] = await Promise.all([signup(h.app), signup(h.app)]);
});
afterAll(() => h?.close());

const req = (
  user: TestUser,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
) => h.app.inject({ method, url, headers: { ...user.auth, ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });

describe('creating a book', () => {
  it('stores a trimmed book with a normalised ISBN and answers 201 with it', async () => {
    const res = await req(alice, 'POST', '/books', {
      title: '  The Great Gatsby ',
      author: ' F. Scott Fitzgerald',
      isbn: '978-0-7432-7356-5',
      publishedYear: 1925,
      genre: 'Fiction',
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers.location).toBe(`/books/${res.json().data.id}`);
    expect(res.headers.etag).toBe('"1"');
    expect(res.json()).toMatchObject({
      success: true,
      data: {
        title: 'The Great Gatsby',
        author: 'F. Scott Fitzgerald',
        isbn: '9780743273565',
        publishedYear: 1925,
        genre: 'Fiction',
        userId: alice.id,
        version: 1,
      },
    });
  });

  it('accepts an ISBN-10 with a check digit X and spaces', async () => {
    const book = await addBook(h.app, alice, { title: 'Ten', author: 'A', isbn: '0 8044 2957 x' });
    expect(book.isbn).toBe('080442957X');
  });

  it.each([
    [{ author: 'No title' }, 'body:/'],
    [{ title: '   ', author: 'Blank title' }, 'body:/title'],
    [{ title: 'x'.repeat(501), author: 'Long' }, 'body:/title'],
    [{ title: 'Bad ISBN', author: 'A', isbn: '978-0-7432-7356-4' }, '/isbn'],
    [{ title: 'Bad ISBN', author: 'A', isbn: 'hello' }, '/isbn'],
    [{ title: 'Future', author: 'A', publishedYear: new Date().getUTCFullYear() + 2 }, '/publishedYear'],
    [{ title: 'Year as text', author: 'A', publishedYear: '1925' }, 'body:/publishedYear'],
    [{ title: 'Fraction', author: 'A', publishedYear: 1925.5 }, 'body:/publishedYear'],
    [{ title: 42, author: 'A' }, 'body:/title'],
  ])('rejects %j with a 400 that names the field', async (payload, path) => {
    const res = await req(alice, 'POST', '/books', payload);
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body).toMatchObject({ success: false, code: 'VALIDATION_ERROR' });
    expect(body.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it('rejects a body that is not JSON', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/books',
      headers: { ...alice.auth, 'content-type': 'application/json' },
      payload: '{"title": "x",',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ success: false, code: 'BAD_REQUEST' });
  });

  it('ignores unknown and read-only properties instead of applying them', async () => {
    const res = await req(alice, 'POST', '/books', {
      title: 'Sneaky',
      author: 'A',
      id: '00000000-0000-4000-8000-000000000000',
      userId: bob.id,
      version: 99,
      createdAt: '2000-01-01T00:00:00Z',
      admin: true,
    });
    expect(res.statusCode).toBe(201);
    const book = res.json().data;
    expect(book.id).not.toBe('00000000-0000-4000-8000-000000000000');
    expect(book.userId).toBe(alice.id);
    expect(book.version).toBe(1);
    expect(book.createdAt).not.toMatch(/^2000/);
    expect(book).not.toHaveProperty('admin');
  });

  it('refuses a second book with the same ISBN for the same user (409) but not for another user', async () => {
    await addBook(h.app, alice, { title: 'Dup', author: 'A', isbn: '9780306406157' });
    const again = await req(alice, 'POST', '/books', { title: 'Dup again', author: 'A', isbn: '978-0-306-40615-7' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ success: false, code: 'DUPLICATE_ISBN' });
    expect((await req(bob, 'POST', '/books', { title: 'Dup', author: 'A', isbn: '9780306406157' })).statusCode).toBe(201);
  });
});

describe('reading, changing and deleting', () => {
  it('reads one book with its ETag', async () => {
    const book = await addBook(h.app, alice, { title: 'Read me', author: 'A' });
    const res = await req(alice, 'GET', `/books/${book.id}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe('"1"');
    expect(res.json().data).toEqual(book);
  });

  it('accepts back the whole book it returned, ignoring read-only fields, and bumps the version', async () => {
    const book = await addBook(h.app, alice, { title: 'Round trip', author: 'A' });
    const res = await req(alice, 'PUT', `/books/${book.id}`, { ...book, title: 'Round trip, revised', userId: bob.id, version: 50 });
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe('"2"');
    expect(res.json().data).toMatchObject({
      id: book.id,
      userId: alice.id,
      title: 'Round trip, revised',
      version: 2,
      isbn: null,
      genre: null,
      publishedYear: null,
    });
  });

  it('changes only the fields sent, and null clears an optional one', async () => {
    const book = await addBook(h.app, alice, { title: 'Partial', author: 'A', genre: 'Poetry', publishedYear: 2001 });
    const res = await req(alice, 'PUT', `/books/${book.id}`, { genre: null, author: '  B ' });
    expect(res.json().data).toMatchObject({ title: 'Partial', author: 'B', genre: null, publishedYear: 2001 });
    const empty = await req(alice, 'PUT', `/books/${book.id}`, { id: book.id });
    expect(empty.statusCode).toBe(400);
    const blankTitle = await req(alice, 'PUT', `/books/${book.id}`, { title: ' ' });
    expect(blankTitle.statusCode).toBe(400);
  });

  it('refuses a stale If-Match with 412 so two editors cannot overwrite each other', async () => {
    const book = await addBook(h.app, alice, { title: 'Contested', author: 'A' });
    const first = await req(alice, 'PUT', `/books/${book.id}`, { title: 'Editor one' }, { 'if-match': '"1"' });
    expect(first.statusCode).toBe(200);
    const second = await req(alice, 'PUT', `/books/${book.id}`, { title: 'Editor two' }, { 'if-match': '"1"' });
    expect(second.statusCode).toBe(412);
    expect(second.json()).toMatchObject({ success: false, code: 'PRECONDITION_FAILED' });
    expect((await req(alice, 'GET', `/books/${book.id}`)).json().data.title).toBe('Editor one');
    const fresh = await req(alice, 'PUT', `/books/${book.id}`, { title: 'Editor two' }, { 'if-match': first.headers.etag as string });
    expect(fresh.statusCode).toBe(200);
    expect((await req(alice, 'PUT', `/books/${book.id}`, { title: 'Any' }, { 'if-match': '*' })).statusCode).toBe(200);
  });

  it('refuses an ISBN change that collides with another of the user’s books (409)', async () => {
    await addBook(h.app, alice, { title: 'Holder', author: 'A', isbn: '9780131103627' });
    const other = await addBook(h.app, alice, { title: 'Other', author: 'A' });
    const res = await req(alice, 'PUT', `/books/${other.id}`, { isbn: '978-0-13-110362-7' });
    expect(res.statusCode).toBe(409);
  });

  it('deletes a book with 204, after which it is gone', async () => {
    const book = await addBook(h.app, alice, { title: 'Doomed', author: 'A' });
    const res = await req(alice, 'DELETE', `/books/${book.id}`);
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect((await req(alice, 'GET', `/books/${book.id}`)).statusCode).toBe(404);
    expect((await req(alice, 'DELETE', `/books/${book.id}`)).statusCode).toBe(404);
  });

  it('answers 400 for an id that is not a uuid and 404 for one that does not exist', async () => {
    expect((await req(alice, 'GET', '/books/not-a-uuid')).statusCode).toBe(400);
    const missing = await req(alice, 'GET', '/books/6f1c1b1e-3d7c-4b8e-9a55-0d1a2b3c4d5e');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ success: false, error: 'Book not found', code: 'NOT_FOUND' });
  });
});

describe('two users', () => {
  it('cannot see or touch each other’s books: always 404, never 403', async () => {
    const secret = await addBook(h.app, alice, { title: 'Alice’s diary', author: 'Alice' });
    for (const [method, payload] of [['GET'], ['PUT', { title: 'Hijacked' }], ['DELETE']] as const) {
      const res = await req(bob, method, `/books/${secret.id}`, payload);
      expect(res.statusCode, method).toBe(404);
      expect(res.json().code).toBe('NOT_FOUND');
    }
    const bobsList = (await req(bob, 'GET', '/books?limit=1000')).json();
    expect(bobsList.data.map((b: { id: string }) => b.id)).not.toContain(secret.id);
    expect((await req(alice, 'GET', `/books/${secret.id}`)).json().data.title).toBe('Alice’s diary');
  });
});

describe('listing', () => {
  let carol: TestUser;
  beforeAll(async () => {
    carol = await signup(h.app);
    for (let i = 1; i <= 25; i++) {
      await addBook(h.app, carol, {
        title: i % 5 === 0 ? `Dune part ${i}` : `Book ${i}`,
        author: i === 7 ? 'Frank HERBERT' : `Author ${i}`,
      });
    }
  });

  it('lists newest first with the seed envelope and default paging', async () => {
    const res = await req(carol, 'GET', '/books');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ success: true, source: 'database', count: 25, total: 25, limit: 100, offset: 0 });
    expect(body.data[0].title).toBe('Dune part 25');
    expect(body.data[24].title).toBe('Book 1');
  });

  it('pages with limit and offset', async () => {
    const page = (await req(carol, 'GET', '/books?limit=10&offset=20')).json();
    expect(page).toMatchObject({ count: 5, total: 25, limit: 10, offset: 20 });
    expect(page.data.map((b: { title: string }) => b.title)).toEqual(['Dune part 5', 'Book 4', 'Book 3', 'Book 2', 'Book 1']);
    expect((await req(carol, 'GET', '/books?limit=1001')).statusCode).toBe(400);
    expect((await req(carol, 'GET', '/books?limit=0')).statusCode).toBe(400);
    expect((await req(carol, 'GET', '/books?offset=-1')).statusCode).toBe(400);
  });

  it('searches title or author, case-insensitively, treating % and _ literally', async () => {
    const dune = (await req(carol, 'GET', '/books?search=DUNE')).json();
    expect(dune.total).toBe(5);
    const herbert = (await req(carol, 'GET', '/books?search=herbert')).json();
    expect(herbert.data.map((b: { title: string }) => b.title)).toEqual(['Book 7']);
    expect((await req(carol, 'GET', '/books?search=%25')).json().total).toBe(0);
    expect((await req(carol, 'GET', '/books?search=_')).json().total).toBe(0);
  });
});

describe('errors', () => {
  it('answers an unknown route with the error envelope', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ success: false, error: 'Route GET /nope not found', code: 'NOT_FOUND' });
  });

  it('answers a body over the limit with 413', async () => {
    const res = await req(alice, 'POST', '/books', { title: 'Big', author: 'A', genre: 'x'.repeat(2 * 1024 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ success: false, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('answers a missing token with 401 in the envelope', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/books' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
  });
});
