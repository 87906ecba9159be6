// Entry point: reads the config once, listens, and shuts down gracefully on SIGTERM/SIGINT.
import { loadApiConfigOrExit } from '@books/core/config';
import { exitIfServersTooOld } from '@books/core/runtime';
import { buildApp } from './app.js';

const config = loadApiConfigOrExit(process.env);

const app = await buildApp(config);
await exitIfServersTooOld({ sql: app.sql, redis: app.redis }, app.log);
if (config.jwt.insecureDevSecret) app.log.warn('JWT_SECRET is not set: using a development-only secret (never do this in production)');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: finishing requests in flight');
    setTimeout(() => {
      app.log.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownGraceMs).unref();
    app.close().then(
      () => {
        app.log.info('stopped');
        process.exit(0);
      },
      (err) => {
        app.log.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  });
}

try {
  await app.listen({ host: config.host, port: config.port });
} catch (err) {
  app.log.error({ err }, 'could not start listening');
  process.exit(1);
}
