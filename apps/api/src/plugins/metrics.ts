// The API's Prometheus metrics: request durations by route template (never the raw URL: ids would
// make a series per book), cache hits and misses, rate-limited requests, bulk submissions. Served on
// their own listener (server.ts, METRICS_PORT) unless METRICS_ON_API_PORT puts /metrics here.
import { createMetricsRegistry, LATENCY_BUCKETS_SECONDS } from '@books/core/metrics';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Histogram, type Registry } from 'prom-client';

export interface ApiMetrics {
  /** GET /books answers by cache result: one child per label value, bound once (inc() alone per request). */
  cacheHits: Counter.Internal;
  cacheMisses: Counter.Internal;
  rateLimited: Counter<'limit'>;
  bulkSubmissions: Counter;
  bulkQueuedBooks: Counter;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
    metricsRegistry: Registry;
  }
}

export default fp(
  async function metrics(app: FastifyInstance) {
    const registry = createMetricsRegistry();
    const registers = [registry];
    const requestDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Duration of HTTP requests, by route template, method and status code',
      labelNames: ['route', 'method', 'status_code'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    const cacheRequests = new Counter({
      name: 'books_cache_requests_total',
      help: 'GET /books answers by cache result (miss: read from Postgres, Redis down included)',
      labelNames: ['result'],
      registers,
    });
    app.decorate('metricsRegistry', registry);
    app.decorate('metrics', {
      cacheHits: cacheRequests.labels({ result: 'hit' }),
      cacheMisses: cacheRequests.labels({ result: 'miss' }),
      rateLimited: new Counter({
        name: 'http_rate_limited_total',
        help: 'Requests refused with 429, by limit (global: RATE_LIMIT_MAX; auth: AUTH_RATE_LIMIT_MAX)',
        labelNames: ['limit'],
        registers,
      }),
      bulkSubmissions: new Counter({ name: 'books_bulk_submissions_total', help: 'Bulk imports accepted (replays excluded)', registers }),
      bulkQueuedBooks: new Counter({
        name: 'books_bulk_queued_books_total',
        help: 'Valid books queued by accepted bulk imports',
        registers,
      }),
    });

    // One child per series, kept: prom-client's observe(labels, value) validates and hashes the labels
    // on every call, which a cached GET /books felt. The series are few (routes × methods × statuses).
    const series = new Map<string, Histogram.Internal<'route' | 'method' | 'status_code'>>();
    app.addHook('onResponse', (request, reply, done) => {
      // An unmatched URL (404) has no template; it is one series, not one per URL tried.
      const route = request.routeOptions.url ?? 'unmatched';
      const key = `${route} ${request.method} ${reply.statusCode}`;
      let child = series.get(key);
      if (child === undefined) {
        child = requestDuration.labels({ route, method: request.method, status_code: reply.statusCode });
        series.set(key, child);
      }
      child.observe(reply.elapsedTime / 1000);
      done();
    });

    if (app.config.metricsOnApiPort) {
      app.get('/metrics', { schema: { hide: true }, config: { rateLimit: false } }, async (_request, reply) =>
        reply.type(registry.contentType).send(await registry.metrics()),
      );
    }
  },
  { name: 'metrics', dependencies: ['datastores'] },
);
