// Scenario 4: the private Redis frozen (SIGSTOP) while imports are being submitted, for longer
// than the API's Redis command timeout, then resumed. The connection stays up, so a submit script
// already written to it runs when Redis wakes, after the API gave up waiting. Whatever the API
// answered must be true: a 202 or an "outcome unknown" with a requestId is processed exactly once;
// a plain 503 means nothing of it is ever stored.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signUp, tag } from '../system.js';
import { expectFinalState } from './final-state.js';
import { type Rig, sleep, startRig } from './rig.js';
import { between, type PlannedImport, planImport, seededRandom, submit, suiteSeed } from './workload.js';

const LABEL = 'redis paused';
let rig: Rig;
beforeAll(async () => {
  rig = await startRig('faults-pause');
  await rig.system.start('api');
});
afterAll(() => rig?.close());

it('Redis frozen during submits: every answer is true (202 or unknown: imported once; 503: nothing stored)', async () => {
  const { system, redis } = rig;
  const random = seededRandom(suiteSeed(LABEL));
  const t = tag();
  const users = await Promise.all([0, 1, 2].map((n) => signUp(system, `rp${n}_${t}`)));
  await Promise.all([system.start('bulk-worker'), system.start('report-worker')]);

  const plans = users.flatMap((user) => [1, 2, 3, 4].map((no) => planImport(user, no, 60, random)));
  // Before its submit script, a request waits out the rate-limit count and the identity lookup,
  // each with the API's 2 s command timeout; the pause (7-9 s) outlasts both and then the submit's
  // own timeout, so submits caught early in it time out inside the API while their script waits in
  // Redis' socket buffer, and run when Redis wakes.
  const pauseAt = between(random, 200, 500);
  const pauseMs = between(random, 7000, 9000);
  const sendAt = plans.map(() => between(random, 0, pauseAt + 2000));
  const started = Date.now();
  const timings: { plan: PlannedImport; sentAt: number; answeredAt: number }[] = [];
  const freeze = (async () => {
    await sleep(pauseAt);
    redis.pause();
    await sleep(pauseMs);
    redis.resume();
  })();
  await Promise.all(
    plans.map(async (plan, i) => {
      await sleep(sendAt[i]!);
      const sentAt = Date.now() - started;
      await submit(system, plan);
      timings.push({ plan, sentAt, answeredAt: Date.now() - started });
    }),
  );
  await freeze;

  console.log(`[${LABEL}] SIGSTOP at +${pauseAt} ms, SIGCONT at +${pauseAt + pauseMs} ms`);
  for (const { plan, sentAt, answeredAt } of timings.sort((a, b) => a.sentAt - b.sentAt)) {
    console.log(
      `[${LABEL}] ${plan.user.username} import ${plan.no}: sent +${sentAt} ms, answered +${answeredAt} ms: ` +
        `${plan.status} ${plan.body?.code ?? ''} ${plan.requestId ?? ''}`,
    );
  }
  // The scenario means something only if some submits were in flight while Redis was frozen.
  const caught = timings.filter((x) => x.sentAt < pauseAt + pauseMs && x.answeredAt > pauseAt);
  expect(caught.length, `${LABEL}: submits in flight during the pause`).toBeGreaterThan(0);

  await expectFinalState(rig, LABEL, plans);
});
