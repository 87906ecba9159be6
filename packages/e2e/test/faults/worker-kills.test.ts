// Scenario 1: three bulk-worker replicas, one or two SIGKILLed at seeded random moments while four
// users import (a second wave of imports arrives during the kills), restarted each time, as a
// restart policy would. Leases expire (3 s) and the others resume from the last recorded chunk.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningProcess, signUp, tag, waitFor } from '../system.js';
import { expectFinalState } from './final-state.js';
import { bookCount, type Rig, sleep, startRig } from './rig.js';
import { between, planImport, seededRandom, submit, suiteSeed } from './workload.js';

const LABEL = 'worker kills';
let rig: Rig;
beforeAll(async () => {
  // Two-book chunks, one user at a time per replica: a drain of 4,000 books lasts several seconds.
  rig = await startRig('faults-kill', { BULK_CHUNK_SIZE: '2', BULK_CONCURRENCY: '1' });
  await rig.system.start('api');
});
afterAll(() => rig?.close());

it('bulk workers SIGKILLed at random during several imports: every valid book once, every request completed, one email per report', async () => {
  const { system } = rig;
  const random = seededRandom(suiteSeed(LABEL));
  const t = tag();
  const users = await Promise.all([0, 1, 2, 3].map((n) => signUp(system, `wk${n}_${t}`)));
  const firstWave = users.map((user) => planImport(user, 1, 700, random));
  const secondWave = users.map((user) => planImport(user, 2, 300, random));
  const expectedTotal = [...firstWave, ...secondWave].reduce((sum, p) => sum + p.expectedInserted, 0);
  await Promise.all(firstWave.map((plan) => submit(system, plan)));

  const workers: RunningProcess[] = await Promise.all([0, 1, 2].map(() => system.start('bulk-worker')));
  await system.start('report-worker');
  await waitFor(
    async () => ((await bookCount(rig)) ?? 0) > 0,
    60_000,
    () => workers.map((w) => w.output()).join('\n'),
  );

  const started = Date.now();
  let secondWaveSent: Promise<unknown> = Promise.resolve();
  let midDrainKills = 0;
  for (let round = 1; round <= 4; round++) {
    await sleep(between(random, 300, 1500));
    if (round === 2) secondWaveSent = Promise.all(secondWave.map((plan) => submit(system, plan)));
    const victims = [...new Set(Array.from({ length: between(random, 1, 2) }, () => between(random, 0, workers.length - 1)))];
    const atKill = await bookCount(rig);
    await Promise.all(victims.map((i) => system.kill(workers[i]!)));
    if (atKill !== null && atKill < expectedTotal) midDrainKills++;
    const downMs = between(random, 200, 1500);
    console.log(
      `[${LABEL}] round ${round} at +${Date.now() - started} ms: SIGKILL replica(s) ${victims.join(', ')} ` +
        `(pids ${victims.map((i) => workers[i]!.child.pid).join(', ')}) with ${atKill}/${expectedTotal} books in; restart after ${downMs} ms`,
    );
    await sleep(downMs);
    for (const i of victims) workers[i] = await system.restart(workers[i]!);
  }
  await secondWaveSent;
  // The scenario means something only if the kills hit a drain in progress.
  expect(midDrainKills, `${LABEL}: kills that hit a drain in progress`).toBeGreaterThan(0);
  console.log(`[${LABEL}] ${midDrainKills} of 4 rounds killed workers mid-drain`);

  await expectFinalState(rig, LABEL, [...firstWave, ...secondWave]);
});
