// `pnpm db:migrate`: creates the database if needed and applies pending migrations.
import { loadMigrateConfigOrExit } from './config/processes.js';
import { ensureDatabase, runMigrations } from './db/migrate.js';
import { createLogger } from './runtime/logger.js';

const config = loadMigrateConfigOrExit(process.env);
const log = createLogger(config, 'migrate');
try {
  if (await ensureDatabase(config.databaseUrl)) log.info('created the database');
  await runMigrations(config.databaseUrl);
  log.info('migrations applied');
} catch (err) {
  log.error({ err }, 'migration failed');
  process.exitCode = 1;
}
