// Reading a sorted set that is split into shards (keys.ts): every shard is asked at once and the
// answers are merged, so callers see one index, as they did before it was sharded.
import type { RedisClient } from './client.js';

export interface ScoredMember {
  member: string;
  score: number;
}

/** How many members of all the shards score within [min, max] (ZCOUNT's bounds, `(` for exclusive). */
export async function countSharded(
  redis: RedisClient,
  shards: readonly string[],
  min: string = '-inf',
  max: string = '+inf',
): Promise<number> {
  const counts = await Promise.all(shards.map((shard) => redis.zcount(shard, min, max)));
  return counts.reduce((sum, count) => sum + count, 0);
}

/** Every member of all the shards, lowest score first (ties by member, so the order is stable). */
export async function membersSharded(redis: RedisClient, shards: readonly string[]): Promise<ScoredMember[]> {
  const heads = await Promise.all(shards.map((shard) => redis.zrange(shard, 0, -1, 'WITHSCORES')));
  return heads.flatMap(pairs).sort(byScore);
}

/** The lowest score of all the shards, or null if they are all empty. */
export async function lowestScoreSharded(redis: RedisClient, shards: readonly string[]): Promise<number | null> {
  const heads = await Promise.all(shards.map((shard) => redis.zrange(shard, 0, 0, 'WITHSCORES')));
  const scores = heads.flatMap(pairs).map(({ score }) => score);
  return scores.length ? Math.min(...scores) : null;
}

/** ZRANGE … WITHSCORES's flat answer as pairs. */
export function pairs(flat: string[]): ScoredMember[] {
  const out: ScoredMember[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ member: flat[i]!, score: Number(flat[i + 1]) });
  return out;
}

export const byScore = (a: ScoredMember, b: ScoredMember) => a.score - b.score || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0);
