// Where the test services are. The defaults are this repository's CI machine; override with
// TEST_DATABASE_URL (an admin connection, used to create databases) and TEST_REDIS_URL.
export const testEnv = {
  adminDatabaseUrl: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
};
