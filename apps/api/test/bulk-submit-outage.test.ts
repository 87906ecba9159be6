// A 503 from POST /books/bulk must be true: "nothing was queued" only when nothing was, and
// otherwise "outcome unknown" with the requestId to look up, whose answer is then final. Redis is
// a private redis-server, frozen with SIGSTOP while a submit is on its way (the API's client gives
// up after its 2 s command timeout while Redis still holds the script in its socket buffer).
import { createPrivateRedis, type PrivateRedis } from '@books/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ApiHarness, signup, startApi, type TestUser } from './helpers.js';

let redis: PrivateRedis;
let h: ApiHarness;
let user: TestUser;
beforeAll(async () => {
  redis = await createPrivateRedis();
  await redis.start();
  h = await startApi('bulk-outage', { REDIS_URL: redis.url });
});
afterAll(async () => {
  redis?.resume();
  await h?.close();
  await redis?.stop();
});
beforeEach(async () => {
  user = await signup(h.app);
});

const submit = (title: string) =>
  h.app.inject({
    method: 'POST',
    url: '/books/bulk',
    headers: user.auth,
    payload: {
      books: [
        { title, author: 'A' },
        { title: `${title} 2`, author: 'A' },
      ],
    },
  });
const lookUp = (requestId: string) => h.app.inject({ method: 'GET', url: `/books/bulk/${requestId}`, headers: user.auth });
const queuedIds = () => h.app.redis.lrange(h.app.keys.bulkQueue(user.id), 0, -1);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('POST /books/bulk while Redis stalls', () => {
  it("answers 202 when the submit's answer came late but the request was stored, and stores it once", async () => {
    redis.pause();
    const answer = submit('Late');
    // Past the client's 2 s timeout, before the follow-up check gives up.
    await sleep(2600);
    redis.resume();
    const res = await answer;
    expect(res.statusCode).toBe(202);
    const { requestId } = res.json().data;
    expect(await queuedIds()).toEqual([requestId]);
    expect((await lookUp(requestId)).json().data).toMatchObject({ stage: 'queued', queued: 2 });
  });

  it('answers 503 QUEUE_OUTCOME_UNKNOWN with the requestId while Redis is silent, and the lookup afterwards is the truth', async () => {
    redis.pause();
    let res: Awaited<ReturnType<typeof submit>>;
    try {
      res = await submit('Unknown');
    } finally {
      redis.resume();
    }
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body).toMatchObject({ success: false, code: 'QUEUE_OUTCOME_UNKNOWN', requestId: expect.any(String) });
    expect(res.headers.location).toBe(`/books/bulk/${body.requestId}`);
    // The frozen script ran once Redis woke: the lookup finds it, and it is queued exactly once.
    const looked = await lookUp(body.requestId);
    expect(looked.statusCode).toBe(200);
    expect(await queuedIds()).toEqual([body.requestId]);
  });

  it('a 404 from the lookup is final: a copy of the submit arriving later stores nothing', async () => {
    const { submitBulkRequest } = await import('@books/core/bulk');
    const requestId = crypto.randomUUID();
    expect((await lookUp(requestId)).statusCode).toBe(404);
    await expect(
      submitBulkRequest(h.app.redis, h.app.keys, {
        userId: user.id,
        requestId,
        submitted: 1,
        valid: [{ index: 0, book: { title: 'Ghost', author: 'A' } }],
        invalid: [],
        now: new Date(),
      }),
    ).rejects.toMatchObject({ code: 'SUBMISSION_VOIDED' });
    expect((await lookUp(requestId)).statusCode).toBe(404);
    expect(await queuedIds()).toEqual([]);
  });
});

describe('POST /books/bulk with Redis down', () => {
  it('answers 503 QUEUE_UNAVAILABLE, and then nothing was queued, even after Redis is back', async () => {
    await redis.stop();
    let res: Awaited<ReturnType<typeof submit>>;
    try {
      // The client notices the dead connection first, then refuses commands it cannot send.
      await sleep(300);
      res = await submit('Down');
    } finally {
      await redis.start();
    }
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ success: false, code: 'QUEUE_UNAVAILABLE' });
    await sleep(500);
    expect(await queuedIds()).toEqual([]);
  });
});
