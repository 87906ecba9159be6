// Scenario 5: an SMTP server that keeps each message at once but answers the end of DATA only
// after 40 s (longer than nodemailer's old 30 s socket timeout), with two report-worker replicas.
// A client that gives up and resends, or a second replica that takes over a lease the first still
// needs, delivers a report twice.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signUp, tag } from '../system.js';
import { expectFinalState } from './final-state.js';
import { type Rig, startRig } from './rig.js';
import { planImport, seededRandom, submit, suiteSeed } from './workload.js';

const LABEL = 'slow smtp';
const ANSWER_DELAY_MS = 40_000;
let rig: Rig;
beforeAll(async () => {
  rig = await startRig('faults-smtp');
  await rig.system.start('api');
});
afterAll(() => rig?.close());

it('an SMTP server answering after 40 s, two report replicas: exactly one email per report', async () => {
  const { system } = rig;
  const random = seededRandom(suiteSeed(LABEL));
  const t = tag();
  const users = await Promise.all([0, 1].map((n) => signUp(system, `ss${n}_${t}`)));
  const plans = users.map((user) => planImport(user, 1, 20, random));
  await Promise.all(plans.map((plan) => submit(system, plan)));
  expect(plans.map((p) => p.status)).toEqual([202, 202]);

  system.smtp.answerDelayMs = ANSWER_DELAY_MS;
  await Promise.all([system.start('bulk-worker'), system.start('report-worker'), system.start('report-worker')]);
  console.log(`[${LABEL}] SMTP answers the end of DATA after ${ANSWER_DELAY_MS} ms; two report-worker replicas`);
  await expectFinalState(rig, LABEL, plans, 200_000);
});
