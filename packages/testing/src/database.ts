// Each test file gets its own database, cloned from a template that holds the migrated schema.
// The template's name carries a hash of the migrations, so a changed migration builds a new one.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrationsFolder, runMigrations } from '@books/core/db';
import postgres from 'postgres';
import { testEnv } from './env.js';

function templateName(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(migrationsFolder).sort()) {
    if (file.endsWith('.sql')) hash.update(file).update(readFileSync(join(migrationsFolder, file)));
  }
  return `books_tpl_${hash.digest('hex').slice(0, 12)}`;
}

function urlFor(database: string): string {
  const url = new URL(testEnv.adminDatabaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function ensureTemplate(admin: postgres.Sql, name: string): Promise<void> {
  // Test files of several packages may start at once: one builds the template, the others wait.
  await admin`select pg_advisory_lock(hashtext(${name}))`;
  try {
    const [found] = await admin`select 1 from pg_database where datname = ${name}`;
    if (found) return;
    const building = `${name}_build`;
    await admin.unsafe(`drop database if exists "${building}"`);
    await admin.unsafe(`create database "${building}"`);
    await runMigrations(urlFor(building));
    await admin.unsafe(`alter database "${building}" rename to "${name}"`);
  } finally {
    await admin`select pg_advisory_unlock(hashtext(${name}))`;
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = postgres(testEnv.adminDatabaseUrl, { max: 1, onnotice: () => {} });
  const template = templateName();
  const name = `books_test_${randomBytes(6).toString('hex')}`;
  try {
    await ensureTemplate(admin, template);
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.unsafe(`create database "${name}" template "${template}"`);
        break;
      } catch (err) {
        // 55006: the template is briefly in use by another clone; try again.
        if ((err as { code?: string }).code !== '55006' || attempt >= 20) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  return {
    name,
    url: urlFor(name),
    async drop() {
      const sql = postgres(testEnv.adminDatabaseUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await sql.end();
      }
    },
  };
}
