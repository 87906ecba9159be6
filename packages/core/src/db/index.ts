// Postgres: the Drizzle models, the client, migrations and shared queries.
export * from './client.js';
export * from './migrate.js';
export * from './reports-queries.js';
export * from './schema.js';
export * from './users-queries.js';
export * from './webhook-deliveries-queries.js';
