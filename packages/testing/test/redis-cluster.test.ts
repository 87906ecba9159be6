// The throw-away Redis Cluster is what cluster-mode tests stand on: it must be a real cluster
// (slots split over the masters, CROSSSLOT enforced), move a slot live without losing a write,
// and leave nothing running behind, even when the test process dies.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot, type RedisClusterHandle, startRedisCluster } from '../src/redis-cluster.js';

/** A process's state letter (R, S, Z for a zombie, …) and parent, or undefined once it is gone. */
function processStat(pid: number): { comm: string; state: string; ppid: number } | undefined {
  try {
    // comm is in parentheses and may hold spaces: the fields after it are state, ppid, …
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), state: state as string, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

const running = (pid: number) => {
  const stat = processStat(pid);
  return stat !== undefined && stat.state !== 'Z';
};

/** Running redis-server processes whose parent is `ppid`. */
function redisServerChildren(ppid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      const stat = processStat(pid);
      return stat?.comm === 'redis-server' && stat.state !== 'Z' && stat.ppid === ppid;
    });
}

/** Whether anything accepts connections on the port (a PING that answers). */
async function answers(port: number): Promise<boolean> {
  const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

describe('a throw-away Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
    client.on('error', () => {});
  });
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('forms with 3 masters that share all 16384 slots', async () => {
    expect(cluster.nodes).toEqual(cluster.ports.map((port) => `127.0.0.1:${port}`));
    expect(cluster.nodesEnv).toBe(cluster.nodes.join(','));
    expect(new Set(cluster.ports).size).toBe(3);
    for (const port of cluster.ports) {
      const node = new Redis({ host: '127.0.0.1', port });
      try {
        const info = (await node.cluster('INFO')) as string;
        expect(info).toContain('cluster_state:ok');
        expect(info).toContain('cluster_slots_assigned:16384');
        expect(info).toContain('cluster_size:3');
      } finally {
        node.disconnect();
      }
    }
    const owners = await Promise.all([0, 5000, 10000, 16383].map((slot) => cluster.slotOwner(slot)));
    for (const owner of owners) expect(cluster.nodes).toContain(owner);
  });

  it('serves a Cluster client SET and GET on keys of many slots, on every master', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `spread:${i}`);
    await Promise.all(keys.map((key) => client.set(key, `value of ${key}`)));
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((key) => `value of ${key}`));
    const slots = new Set(keys.map(keySlot));
    expect(slots.size).toBeGreaterThan(250);
    const owners = new Set(await Promise.all([...slots].map((slot) => cluster.slotOwner(slot))));
    expect([...owners].sort()).toEqual([...cluster.nodes].sort());
  });

  it('runs a Lua script on two keys of one hash tag, and refuses two slots with CROSSSLOT', async () => {
    const script = "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return redis.call('MGET', KEYS[1], KEYS[2])";
    expect(keySlot('{user-1}:a')).toBe(keySlot('{user-1}:b'));
    expect(await client.eval(script, 2, '{user-1}:a', '{user-1}:b', 'both')).toEqual(['both', 'both']);
    expect(keySlot('{user-1}:a')).not.toBe(keySlot('{user-2}:b'));
    await expect(client.eval(script, 2, '{user-1}:a', '{user-2}:b', 'both')).rejects.toThrow(/CROSSSLOT/);
    expect(await client.get('{user-2}:b')).toBeNull();
  });

  it('moves a slot of 500 keys while a client keeps writing and reading it, and loses no write', async () => {
    const tag = '{moving}';
    const slot = keySlot(tag);
    const source = await cluster.slotOwner(slot);
    const target = cluster.nodes.find((node) => node !== source) as string;
    const seeded = Array.from({ length: 500 }, (_, i) => `${tag}:seed:${i}`);
    await Promise.all(seeded.map((key, i) => client.set(key, `seed-${i}`)));

    // What each key must hold, as the client was told by each acknowledged write.
    const expected = new Map(seeded.map((key, i) => [key, `seed-${i}`]));
    const readMismatches: string[] = [];
    const counters = new Map(cluster.ports.map((port) => [`127.0.0.1:${port}`, new Redis({ host: '127.0.0.1', port })]));
    let writesWhileSplit = 0;
    let moving = true;

    const writer = (async () => {
      for (let n = 0; moving; n++) {
        // Alternately a new key (sent on to the target with ASK) and an update of a seeded one
        // (served by whichever node holds it at that moment), each read back at once.
        const key = n % 2 === 0 ? `${tag}:live:${n}` : (seeded[(n * 7) % seeded.length] as string);
        const value = `write-${n}`;
        await client.set(key, value);
        expected.set(key, value);
        const read = await client.get(key);
        if (read !== value) readMismatches.push(`${key}: wrote ${value}, read ${read}`);
        if (n % 5 === 0) {
          const [onSource, onTarget] = await Promise.all(
            [source, target].map((node) => counters.get(node)?.cluster('COUNTKEYSINSLOT', slot) as Promise<number>),
          );
          if ((onSource ?? 0) > 0 && (onTarget ?? 0) > 0) writesWhileSplit++;
        }
      }
    })();

    const started = Date.now();
    try {
      const moved = await cluster.moveSlot(slot, target, { batch: 25, pauseMs: 25 }).finally(() => {
        moving = false;
      });
      await writer;
      expect(Date.now() - started).toBeLessThan(10_000);

      expect(moved.keysMoved).toBeGreaterThanOrEqual(500);
      expect(await cluster.slotOwner(slot)).toBe(target);
      expect(readMismatches).toEqual([]);
      // The writer really ran against a half-moved slot, not only before or after the move.
      expect(writesWhileSplit).toBeGreaterThan(3);
      expect(expected.size).toBeGreaterThan(520);
      const keys = [...expected.keys()];
      expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((key) => expected.get(key)));
      // On the target itself, not merely reachable through redirections; and nothing left on the source.
      expect(await counters.get(target)?.cluster('COUNTKEYSINSLOT', slot)).toBe(expected.size);
      expect(await counters.get(source)?.cluster('COUNTKEYSINSLOT', slot)).toBe(0);
    } finally {
      moving = false;
      for (const counter of counters.values()) counter.disconnect();
    }
  });

  it('stop() kills every node and removes its directory, and may be called again', async () => {
    expect(redisServerChildren(process.pid)).toHaveLength(3);
    expect(existsSync(cluster.dir)).toBe(true);
    client.disconnect();
    await cluster.stop();
    expect(redisServerChildren(process.pid)).toEqual([]);
    expect(existsSync(cluster.dir)).toBe(false);
    expect(await Promise.all(cluster.ports.map(answers))).toEqual([false, false, false]);
    await cluster.stop();
  });
});

it('leaves no redis-server behind when the test process is killed with SIGKILL', async () => {
  // The built module, as a crashing test run would have loaded it (this package's tests run after its build).
  const module = new URL('../dist/redis-cluster.js', import.meta.url).href;
  const script = `const { startRedisCluster } = await import(${JSON.stringify(module)});
const cluster = await startRedisCluster();
process.stdout.write(JSON.stringify({ ports: cluster.ports, dir: cluster.dir }) + '\\n');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = await new Promise<{ ports: number[]; dir: string }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(JSON.parse(out));
    });
    child.once('exit', (code) => reject(new Error(`the child exited (${code}) before its cluster formed`)));
  });
  const orphans = redisServerChildren(child.pid as number);
  try {
    expect(await Promise.all(started.ports.map(answers))).toEqual([true, true, true]);
    expect(orphans).toHaveLength(3);

    child.kill('SIGKILL');
    // The kernel delivers each server its parent-death signal; give it a moment to act.
    const deadline = Date.now() + 5000;
    while (orphans.some(running) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(orphans.filter(running)).toEqual([]);
    expect(await Promise.all(started.ports.map(answers))).toEqual([false, false, false]);
  } finally {
    child.kill('SIGKILL');
    // Only if the test failed: not to leave its servers behind either.
    for (const pid of orphans.filter(running)) process.kill(pid, 'SIGKILL');
    // What nothing could do for a SIGKILLed process: remove its directory (a few KB of nodes.conf).
    await rm(started.dir, { recursive: true, force: true });
  }
});
