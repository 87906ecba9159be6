// Scenario 3: the private Redis (AOF, fsync on every write) SIGKILLed three times during a drain and
// started again from its AOF, with two bulk workers, the report worker and the API running.
import { afterAll, beforeAll, it } from 'vitest';
import { drainThroughOutages } from './outages.js';
import { type Rig, startRig } from './rig.js';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig('faults-redis', { BULK_CHUNK_SIZE: '2', BULK_CONCURRENCY: '1' });
  await rig.system.start('api');
});
afterAll(() => rig?.close());

it('Redis killed and restarted mid-drain: the AOF keeps the queue; every valid book once, every request completed, one email per report', async () => {
  const kill = { name: 'SIGKILL', run: (downMs: number) => rig.killRedis(downMs) };
  await drainThroughOutages(rig, 'redis killed', [kill, kill, kill]);
});
