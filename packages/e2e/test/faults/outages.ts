// Scenarios 2 and 3 share a shape: a drain in progress, a datastore taken down at seeded points of
// it (early, middle, late) and started again after a seeded while, then the final-state checks.
import { expect } from 'vitest';
import { signUp, tag, waitFor } from '../system.js';
import { expectFinalState, failOnUnexpectedExit } from './final-state.js';
import { bookCount, type Rig } from './rig.js';
import { between, planImport, seededRandom, submit, suiteSeed } from './workload.js';

export interface Outage {
  /** How the datastore goes down, for the log. */
  name: string;
  run(downMs: number): Promise<void>;
}

export async function drainThroughOutages(rig: Rig, label: string, outages: [Outage, Outage, Outage]): Promise<void> {
  const { system } = rig;
  const random = seededRandom(suiteSeed(label));
  const t = tag();
  const users = await Promise.all([0, 1, 2].map((n) => signUp(system, `${label.slice(0, 2)}${n}_${t}`)));
  const plans = users.map((user) => planImport(user, 1, 900, random));
  const expectedTotal = plans.reduce((sum, p) => sum + p.expectedInserted, 0);
  await Promise.all(plans.map((plan) => submit(system, plan)));
  expect(plans.map((p) => p.status)).toEqual(plans.map(() => 202));

  await Promise.all([system.start('bulk-worker'), system.start('bulk-worker'), system.start('report-worker')]);
  let midDrain = 0;
  const windows = [
    [5, 25],
    [35, 55],
    [65, 85],
  ] as const;
  for (const [round, outage] of outages.entries()) {
    const [low, high] = windows[round]!;
    const threshold = Math.floor((expectedTotal * between(random, low, high)) / 100);
    await waitFor(
      async () => {
        failOnUnexpectedExit(system, label);
        return ((await bookCount(rig)) ?? 0) >= threshold;
      },
      120_000,
      () => `${label}: drain stalled below ${threshold}`,
    );
    const atKill = (await bookCount(rig)) ?? -1;
    const downMs = between(random, 1500, 4000);
    const at = Date.now();
    await outage.run(downMs);
    if (atKill < expectedTotal) midDrain++;
    console.log(
      `[${label}] outage ${round + 1} (${outage.name}) with ${atKill}/${expectedTotal} books in (aimed at ${threshold}), ` +
        `down ${downMs} ms, back after ${Date.now() - at} ms`,
    );
  }
  expect(midDrain, `${label}: outages that hit a drain in progress`).toBeGreaterThan(0);
  await expectFinalState(rig, label, plans);
}
