// /admin/stats's judgement of a worker kind from its replicas' heartbeats.
import type { WorkerHeartbeat } from '@books/core/schemas';
import { expect, it } from 'vitest';
import { passIntervalMs, workerKindStatus } from '../src/services/worker-status.js';

const at = new Date('2026-12-03T12:00:00.000Z');
const ago = (seconds: number) => new Date(at.getTime() - seconds * 1000).toISOString();
const replica = (overrides: Partial<WorkerHeartbeat>): WorkerHeartbeat => ({
  id: 'host-1-abc',
  kind: 'bulk-worker',
  host: 'host',
  pid: 1,
  version: '0.1.0',
  startedAt: ago(600),
  beatAt: ago(1),
  lastPassStartedAt: ago(31),
  lastPassEndedAt: ago(30),
  lastOutcome: 'ok',
  passRunning: false,
  ...overrides,
});
const EVERY_MINUTE = '0 * * * * *';

it('measures the interval of a schedule', () => {
  expect(passIntervalMs(EVERY_MINUTE, at)).toBe(60_000);
  expect(passIntervalMs('0 */5 * * * *', at)).toBe(300_000);
});

it('flags a kind with no live replica', () => {
  expect(workerKindStatus([replica({ kind: 'report-worker' })], 'bulk-worker', EVERY_MINUTE, at)).toEqual({
    alive: 0,
    lastPassAt: null,
    problem: 'none alive',
    replicas: [],
  });
});

it('flags a kind whose last pass ended more than two intervals ago, and not one within them', () => {
  expect(workerKindStatus([replica({ lastPassEndedAt: ago(119) })], 'bulk-worker', EVERY_MINUTE, at).problem).toBeNull();
  expect(workerKindStatus([replica({ lastPassEndedAt: ago(121) })], 'bulk-worker', EVERY_MINUTE, at)).toMatchObject({
    alive: 1,
    lastPassAt: ago(121),
    problem: 'last pass older than two intervals',
  });
});

it('takes the freshest replica, counts a running pass as now and judges a new replica from its start', () => {
  const stale = replica({ id: 'a', lastPassEndedAt: ago(500) });
  expect(workerKindStatus([stale, replica({ id: 'b', lastPassEndedAt: ago(10) })], 'bulk-worker', EVERY_MINUTE, at)).toMatchObject({
    alive: 2,
    lastPassAt: ago(10),
    problem: null,
  });
  expect(workerKindStatus([replica({ lastPassEndedAt: ago(900), passRunning: true })], 'bulk-worker', EVERY_MINUTE, at)).toMatchObject({
    lastPassAt: at.toISOString(),
    problem: null,
  });
  const fresh = replica({ startedAt: ago(20), lastPassStartedAt: null, lastPassEndedAt: null, lastOutcome: null });
  expect(workerKindStatus([fresh], 'bulk-worker', EVERY_MINUTE, at).problem).toBeNull();
  expect(workerKindStatus([{ ...fresh, startedAt: ago(200) }], 'bulk-worker', EVERY_MINUTE, at).problem).toBe(
    'last pass older than two intervals',
  );
});
