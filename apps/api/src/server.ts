// Entry point: reads the config once, listens, and shuts down gracefully on SIGTERM/SIGINT.
import { loadApiConfigOrExit } from '@books/core/config';
import { exitIfServersTooOld, onShutdown } from '@books/core/runtime';
import { buildApp } from './app.js';

const config = loadApiConfigOrExit(process.env);

const app = await buildApp(config);
await exitIfServersTooOld({ sql: app.sql, redis: app.redis }, app.log);
if (config.jwt.insecureDevSecret) app.log.warn('JWT_SECRET is not set: using a development-only secret (never do this in production)');

onShutdown({
  log: app.log,
  graceMs: config.shutdownGraceMs,
  stopping: 'finishing requests in flight',
  ifTooLong: 'requests still in flight are cut off',
  close: () => app.close(),
});

try {
  await app.listen({ host: config.host, port: config.port });
} catch (err) {
  app.log.error({ err }, 'could not start listening');
  process.exit(1);
}
