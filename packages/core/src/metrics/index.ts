// Prometheus metrics (prom-client) and the listener that serves them with a worker's probes.
export * from './ops-server.js';
export * from './registry.js';
