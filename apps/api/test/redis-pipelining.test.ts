// The API's Redis client auto-pipelines: the commands of concurrent requests leave together. A Lua
// command first defined while a pipeline is filling used to crash the process (redis/ioredis#1931).
import { randomUUID } from 'node:crypto';
import { submitBulkRequest } from '@books/core/bulk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, signup, startApi } from './helpers.js';

let h: ApiHarness;
let base: string;
beforeAll(async () => {
  h = await startApi('pipelining');
  // Real sockets: requests that arrive together are handled in one event-loop turn, as in production.
  base = await h.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => h?.close());

const send = (method: string, path: string, token: string, body?: unknown) =>
  fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  }).then(async (res) => ({ status: res.status, json: (await res.json()) as { data: unknown; total?: number } }));

describe('the API on one auto-pipelined Redis client', () => {
  it('has every script defined before it starts: a first bulk submission may share a pipeline', async () => {
    // This turn's pipeline is opened by another command; a script defined only now would be missing from it.
    const other = h.app.redis.get(h.app.keys.bulkStatus(randomUUID()));
    const submitted = submitBulkRequest(h.app.redis, h.app.keys, {
      userId: randomUUID(),
      submitted: 1,
      valid: [{ index: 0, book: { title: 'Shared pipeline', author: 'A' } }],
      invalid: [],
      now: new Date(),
    });
    await expect(other).resolves.toBeNull();
    await expect(submitted).resolves.toMatchObject({ created: true });
  });

  it('serves bulk submissions, cached reads and writes issued at the same moment', async () => {
    const users = await Promise.all([signup(h.app), signup(h.app), signup(h.app)]);
    // Every kind of command the API sends (scripts, reads, writes) shares pipelines with the others.
    const requests = users.flatMap((user, u) =>
      Array.from({ length: 10 }, (_, i) => [
        send('GET', '/books', user.token),
        send('POST', '/books/bulk', user.token, { books: [{ title: `Bulk ${u}-${i}`, author: 'A' }] }),
        send('POST', '/books', user.token, { title: `Single ${u}-${i}`, author: 'B' }),
        send('GET', '/books/queue', user.token),
      ]).flat(),
    );
    const statuses = (await Promise.all(requests)).map((res) => res.status);
    expect(statuses.filter((status) => status >= 300)).toEqual([]);
    expect(statuses.filter((status) => status === 202)).toHaveLength(30);

    for (const user of users) {
      const queue = await send('GET', '/books/queue', user.token);
      expect((queue.json.data as { requests: unknown[] }).requests).toHaveLength(10);
      const list = await send('GET', '/books', user.token);
      expect(list.json.total).toBe(10);
    }
  });
});
