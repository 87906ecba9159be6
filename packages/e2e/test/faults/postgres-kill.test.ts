// Scenario 2: the private Postgres SIGKILLed (crash recovery on restart) early and late in a drain,
// and stopped the fast way (every session gets a FATAL, as in `restart -m immediate/fast`) in its
// middle, with two bulk workers, the report worker and the API running. Nothing may exit, lose or
// duplicate.
import { afterAll, beforeAll, it } from 'vitest';
import { drainThroughOutages } from './outages.js';
import { type Rig, startRig } from './rig.js';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig('faults-pg', { BULK_CHUNK_SIZE: '2', BULK_CONCURRENCY: '1' });
  await rig.system.start('api');
});
afterAll(() => rig?.close());

it('Postgres killed and restarted mid-drain: every valid book once, every request completed, one email per report, no process exits', async () => {
  const kill = { name: 'SIGKILL', run: (downMs: number) => rig.killPostgres(downMs) };
  const stop = { name: 'fast shutdown', run: (downMs: number) => rig.stopPostgres(downMs) };
  await drainThroughOutages(rig, 'postgres killed', [kill, stop, kill]);
});
