// Errors raised before a route runs (by the router or by Node's HTTP parser) answer in the same
// envelope as every other error, without quoting the request back. Sent over a real socket: inject
// cannot produce invalid header bytes or oversized headers.

import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, signup, startApi, type TestUser } from './helpers.js';

let h: ApiHarness;
let port: number;
let user: TestUser;
beforeAll(async () => {
  h = await startApi('pre-route-errors');
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  port = (h.app.server.address() as AddressInfo).port;
  user = await signup(h.app);
});
afterAll(() => h?.close());

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** Writes bytes as they are and reads the answer until the server closes the connection. */
function raw(request: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    // The server may close while we are still writing an oversized request.
    socket.on('error', (err) => (chunks.length ? undefined : reject(err)));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      resolve({ status: Number(head.split(' ')[1]), headers: head, body });
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    // write, not end: Node drops a request whose client half-closes before the answer is ready.
    socket.write(request, 'latin1');
  });
}

const get = (path: string, headers = '') => raw(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n${headers}Connection: close\r\n\r\n`);

function expectEnvelope(answer: RawAnswer, status: number, code: string) {
  expect(answer.status, answer.headers + answer.body).toBe(status);
  expect(answer.headers.toLowerCase()).toContain('content-type: application/json');
  const body = JSON.parse(answer.body);
  expect(body).toEqual({ success: false, error: expect.any(String), code });
  expect(answer.body).not.toMatch(/\bat \S+:\d+|node:internal|FST_ERR|statusCode/);
  return body;
}

describe('errors of the router', () => {
  it('answers a malformed percent-encoding in the path with a 400 envelope that does not quote it', async () => {
    for (const path of ['/books/%E0%A4%A', '/books/%ZZ', '/books/%C0%80']) {
      const answer = await get(path, `Authorization: Bearer ${user.token}\r\n`);
      expectEnvelope(answer, 400, 'BAD_REQUEST');
      expect(answer.body).not.toContain(path.slice(7));
    }
  });

  it('answers a path parameter over the length limit with a 414 envelope that does not quote it', async () => {
    const long = 'a'.repeat(500);
    const answer = await get(`/books/${long}`, `Authorization: Bearer ${user.token}\r\n`);
    expectEnvelope(answer, 414, 'URI_TOO_LONG');
    expect(answer.body).not.toContain('aaaaaaaaaa');
  });
});

describe("errors of Node's HTTP parser", () => {
  it.each([
    ['a control byte in a header value', 'X-Junk: a\x01b\r\n'],
    ['NUL in a header value', 'X-Junk: a\x00b\r\n'],
    ['a space in a header name', 'Bad Header: x\r\n'],
    ['a header line without a colon', 'NoColonHere\r\n'],
  ])('answers %s with a 400 envelope', async (_what, header) => {
    expectEnvelope(await get('/health/live', header), 400, 'BAD_REQUEST');
  });

  it('answers a request line that is not HTTP with a 400 envelope', async () => {
    expectEnvelope(await raw('HELLO THERE\r\n\r\n'), 400, 'BAD_REQUEST');
  });

  it('answers headers over the size limit with a 431 envelope', async () => {
    expectEnvelope(await get('/health/live', `X-Big: ${'a'.repeat(64 * 1024)}\r\n`), 431, 'HEADERS_TOO_LARGE');
  });
});

describe('errors of the body parser', () => {
  const post = (contentType: string, body: string) =>
    raw(
      `POST /books HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${user.token}\r\nContent-Type: ${contentType}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  const books = async () => Number((await h.app.sql`select count(*)::int as n from books`)[0]!.n);

  it('answers a bad Content-Type, unparseable JSON and prototype poisoning in the envelope, storing nothing', async () => {
    const before = await books();
    expectEnvelope(await post('application/x-evil', '{}'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectEnvelope(await post('multipart/form-data; boundary=x', '--x--'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectEnvelope(await post('application/json', '{"title": "x",'), 400, 'BAD_REQUEST');
    expectEnvelope(await post('application/json', ''), 400, 'BAD_REQUEST');
    expectEnvelope(await post('application/json', '{"title":"T","author":"A","__proto__":{"admin":true}}'), 400, 'BAD_REQUEST');
    expectEnvelope(
      await post('application/json', '{"title":"T","author":"A","constructor":{"prototype":{"admin":true}}}'),
      400,
      'BAD_REQUEST',
    );
    expect(await books()).toBe(before);
  });
});
