export * from './context.js';
export * from './database.js';
export * from './env.js';
export * from './pdf.js';
export * from './private-postgres.js';
export * from './redis.js';
export * from './redis-server.js';
export * from './smtp.js';
