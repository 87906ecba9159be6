// Entry point: reads the config once, listens, and shuts down gracefully on SIGTERM/SIGINT.
import { loadApiConfigOrExit } from '@books/core/config';
import { type OpsServer, startOpsServer } from '@books/core/metrics';
import { exitIfServersTooOld, onShutdown } from '@books/core/runtime';
import { buildApp } from './app.js';

const config = loadApiConfigOrExit(process.env);

const app = await buildApp(config);
await exitIfServersTooOld({ sql: app.sql, redis: app.redis }, app.log);
if (config.jwt.insecureDevSecret) app.log.warn('JWT_SECRET is not set: using a development-only secret (never do this in production)');

let metricsServer: OpsServer | undefined;
onShutdown({
  log: app.log,
  graceMs: config.shutdownGraceMs,
  stopping: 'finishing requests in flight',
  ifTooLong: 'requests still in flight are cut off',
  async close() {
    await app.close();
    await metricsServer?.close();
  },
});

try {
  await app.listen({ host: config.host, port: config.port });
  // /metrics apart from the public port, for the scraper alone (METRICS_ON_API_PORT puts it on the API's).
  if (!config.metricsOnApiPort) metricsServer = await startOpsServer({ ...config.metrics, registry: app.metricsRegistry, log: app.log });
} catch (err) {
  app.log.error({ err }, 'could not start listening');
  process.exit(1);
}
