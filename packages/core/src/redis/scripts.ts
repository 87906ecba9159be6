// How a Lua script is declared: its command name, key count and Lua, beside a `declare module
// 'ioredis'` entry that types it (the name must be one of those entries). ioredis' defineCommand
// does the EVALSHA-with-EVAL-fallback caching. Every script is listed once in script-registry.ts,
// which createRedisClient registers on each client it creates, before its first command.
import type { RedisCommander } from 'ioredis';
import type { RedisClient } from './client.js';

export interface RedisScript {
  readonly name: keyof RedisCommander & string;
  /** Omitted for scripts whose key count varies: the caller passes it first. */
  readonly numberOfKeys?: number;
  readonly lua: string;
}

export function defineScript(name: RedisScript['name'], numberOfKeys: number | undefined, lua: string): RedisScript {
  return numberOfKeys === undefined ? { name, lua } : { name, numberOfKeys, lua };
}

export function registerScripts(redis: RedisClient, scripts: readonly RedisScript[]): void {
  for (const { name, numberOfKeys, lua } of scripts) {
    redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
  }
}
