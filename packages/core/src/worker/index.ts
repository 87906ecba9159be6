// Worker processes only: a croner schedule of passes, --once, bounded concurrency, heartbeats and probes.
export * from './heartbeat.js';
export * from './scheduled-worker.js';
export * from './worker-ops.js';
