// Reads of many keys in few round trips, on either deployment. ioredis refuses a pipeline whose
// keys a Redis Cluster serves from different nodes, so there the commands are grouped by slot.
import keySlot from 'cluster-key-slot';
import { type ChainableCommander, Cluster } from 'ioredis';
import type { RedisClient } from './client.js';

/**
 * Runs `add(pipeline, key)` for every key and answers the replies in the keys' order: one pipeline
 * on a standalone Redis; on a cluster one pipeline per slot, all sent at once. The first error is thrown.
 */
export async function pipelinePerSlot(
  redis: RedisClient,
  keys: readonly string[],
  add: (pipeline: ChainableCommander, key: string) => void,
): Promise<unknown[]> {
  if (keys.length === 0) return [];
  const groups = new Map<number, number[]>();
  keys.forEach((key, i) => {
    const group = redis instanceof Cluster ? keySlot(key) : 0;
    groups.set(group, [...(groups.get(group) ?? []), i]);
  });
  const replies = new Array<unknown>(keys.length);
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const pipeline = redis.pipeline();
      for (const i of indexes) add(pipeline, keys[i]!);
      const results = (await pipeline.exec()) ?? [];
      results.forEach(([err, value], n) => {
        if (err) throw err;
        replies[indexes[n]!] = value;
      });
    }),
  );
  return replies;
}
