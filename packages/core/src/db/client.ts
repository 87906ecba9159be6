import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres, { type Sql } from 'postgres';
import * as schema from './schema.js';

export type Database = PostgresJsDatabase<typeof schema>;
/** A transaction, or the database itself for a one-statement change. */
export type Executor = Database | Parameters<Parameters<Database['transaction']>[0]>[0];

export interface DbHandle {
  /** Drizzle for everything but the bulk hot path. */
  db: Database;
  /** postgres.js underneath, for COPY/unnest batches and health pings. */
  sql: Sql;
  close(): Promise<void>;
}

export interface DbOptions {
  max?: number;
  /** False behind pgbouncer in transaction mode (before 1.21, which tracks prepared statements). */
  prepare?: boolean;
  applicationName?: string;
}

export function createDb(url: string, options: DbOptions = {}): DbHandle {
  const sql = postgres(url, {
    max: options.max ?? 10,
    prepare: options.prepare ?? true,
    connect_timeout: 5,
    idle_timeout: 30,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'books' },
  });
  const db = drizzle(sql, { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
