// One Prometheus registry per process (per app in a test process: metrics never leak between
// them), with prom-client's default process metrics. Application metrics are named books_*.
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Buckets for durations from a millisecond to a minute, for request and SMTP times. */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Buckets for passes and renders: a tenth of a second to half an hour. */
export const WORK_BUCKETS_SECONDS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800];
