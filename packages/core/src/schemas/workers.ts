// What a worker replica says about itself in Redis (worker:{kind}:{id}), and what /admin/stats makes of it.
import Type, { type Static } from 'typebox';
import { Nullable, Timestamp } from './common.js';

export const WorkerKindSchema = Type.Union([Type.Literal('bulk-worker'), Type.Literal('report-worker')]);
export type WorkerKind = Static<typeof WorkerKindSchema>;

export const WorkerHeartbeatSchema = Type.Object({
  id: Type.String({ description: 'host, pid and a random suffix: unique per process start' }),
  kind: WorkerKindSchema,
  host: Type.String(),
  pid: Type.Integer(),
  version: Type.String({ description: "the worker's package version" }),
  startedAt: Timestamp,
  /** When this heartbeat was written. */
  beatAt: Timestamp,
  lastPassStartedAt: Nullable(Timestamp),
  lastPassEndedAt: Nullable(Timestamp),
  lastOutcome: Nullable(Type.Union([Type.Literal('ok'), Type.Literal('failed')], { description: "the last finished pass's" })),
  passRunning: Type.Boolean(),
});
export type WorkerHeartbeat = Static<typeof WorkerHeartbeatSchema>;

export const WorkerKindStatusSchema = Type.Object({
  alive: Type.Integer({ description: 'replicas whose heartbeat has not expired' }),
  /** The most recent sign of work: a pass running now counts as now. */
  lastPassAt: Nullable(Timestamp),
  problem: Nullable(
    Type.Union([Type.Literal('none alive'), Type.Literal('last pass older than two intervals')], {
      description: 'null when the kind looks healthy',
    }),
  ),
  replicas: Type.Array(WorkerHeartbeatSchema),
});
export type WorkerKindStatus = Static<typeof WorkerKindStatusSchema>;
