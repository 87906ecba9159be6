// The oldest servers the code works with, checked once at start-up by every process: an older
// Redis accepts our connection and then quietly misbehaves (PEXPIRE … NX is Redis 7: on 6.x the
// cache never fills), so it must be refused loudly instead. A server that cannot be reached is not
// "too old": that is the retry logic's business, so the check then says nothing.
import postgres, { type Sql } from 'postgres';
import type { RedisClient } from '../redis/client.js';

/** Redis 7.0: PEXPIRE … NX (the books cache) and the Lua scripts' commands. */
export const MIN_REDIS_VERSION = '7.0.0';
/** PostgreSQL 13: gen_random_uuid() without pgcrypto (the migrations' default ids); pg_trgm ships with it. */
export const MIN_POSTGRES_VERSION_NUM = 130000;

export class ServerVersionError extends Error {
  readonly code = 'SERVER_TOO_OLD';
}

const parts = (version: string) => version.split('.').map((part) => Number.parseInt(part, 10) || 0);

/** Compares dotted versions numerically (7.10 > 7.9). */
export function versionAtLeast(found: string, required: string): boolean {
  const [a, b] = [parts(found), parts(required)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** Throws when the `INFO server` text names a Redis older than the minimum. */
export function checkRedisInfo(info: string): void {
  const found = /^redis_version:(\S+)/m.exec(info)?.[1];
  if (found && !versionAtLeast(found, MIN_REDIS_VERSION)) {
    throw new ServerVersionError(`Redis ${found} is too old: this service needs Redis ${MIN_REDIS_VERSION} or newer`);
  }
}

/** Throws when `server_version_num` (e.g. 160004) names a PostgreSQL older than the minimum. */
export function checkPostgresVersionNum(versionNum: string | number, version = String(versionNum)): void {
  if (Number(versionNum) < MIN_POSTGRES_VERSION_NUM) {
    throw new ServerVersionError(
      `PostgreSQL ${version} is too old: this service needs PostgreSQL ${MIN_POSTGRES_VERSION_NUM / 10000} or newer`,
    );
  }
}

/**
 * Checks whichever servers answer; unreachable ones are skipped (the API starts degraded without
 * Redis, workers wait). Throws ServerVersionError with a one-line message for a server too old.
 */
export async function checkServerVersions(deps: {
  sql?: Sql;
  /** For a process that holds no postgres.js client of its own: a one-connection client for the check. */
  databaseUrl?: string;
  redis?: RedisClient;
  timeoutMs?: number;
}): Promise<void> {
  if (!deps.sql && deps.databaseUrl) {
    const sql = postgres(deps.databaseUrl, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      return await checkServerVersions({ ...deps, sql });
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
  const timeoutMs = deps.timeoutMs ?? 5000;
  const within = <T>(promise: Promise<T>) =>
    Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref())]).catch(
      () => undefined,
    );
  const [pg, info] = await Promise.all([
    deps.sql
      ? within(
          deps.sql<
            { num: string; version: string }[]
          >`select current_setting('server_version_num') as num, current_setting('server_version') as version`,
        )
      : undefined,
    deps.redis ? within(deps.redis.info('server')) : undefined,
  ]);
  if (pg?.[0]) checkPostgresVersionNum(pg[0].num, pg[0].version);
  if (typeof info === 'string') checkRedisInfo(info);
}

/** For entry files: checks, and on a server too old logs the one line and exits 1 (any other error is rethrown). */
export async function exitIfServersTooOld(
  deps: Parameters<typeof checkServerVersions>[0],
  log: { fatal(obj: object, msg: string): void },
): Promise<void> {
  try {
    await checkServerVersions(deps);
  } catch (err) {
    if (!(err instanceof ServerVersionError)) throw err;
    log.fatal({ code: err.code }, err.message);
    process.exit(1);
  }
}
