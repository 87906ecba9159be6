// A throw-away Redis Cluster of masters on loopback, for tests of cluster mode: hash slots,
// CROSSSLOT refusals, MOVED/ASK redirections while a slot migrates. Each node is a redis-server of
// its own in a temporary directory, with no persistence; `stop()` kills them and removes it.
import { type ChildProcess, execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type ClusterNode, type MoveSlotOptions, moveSlot, slotOwner } from './redis-cluster-slots.js';
import { freePort } from './redis-server.js';
import { killAndWait, spawnTethered } from './tethered-process.js';

export { keySlot, type MoveSlotOptions } from './redis-cluster-slots.js';

export interface RedisClusterOptions {
  /** How many masters share the 16384 slots (no replicas). At least 3, as `redis-cli --cluster create` demands. */
  masters?: number;
}

export interface RedisClusterHandle {
  /** `127.0.0.1:port` of every master: the seed list a cluster client starts from. */
  nodes: string[];
  ports: number[];
  /** `nodes` comma-joined, as an environment variable carries it. */
  nodesEnv: string;
  /** The temporary directory holding each node's nodes.conf; removed by `stop()`. */
  dir: string;
  /** Which master (`127.0.0.1:port`) serves a slot now. */
  slotOwner(slot: number): Promise<string>;
  /**
   * Moves one slot, with its keys, to another master while clients keep using it, the way
   * `redis-cli --cluster reshard` does (IMPORTING, MIGRATING, MIGRATE in batches, SETSLOT NODE).
   * `keysMoved` counts the keys GETKEYSINSLOT listed and MIGRATE carried. Throws if `toNode`
   * already serves the slot or is not a node of this cluster.
   */
  moveSlot(slot: number, toNode: string, options?: MoveSlotOptions): Promise<{ keysMoved: number }>;
  /** Kills every node and removes the directory. Safe to call twice. */
  stop(): Promise<void>;
}

const run = promisify(execFile);
const HOST = '127.0.0.1';
// Short, so a test that stops a node sees the cluster notice within seconds.
const NODE_TIMEOUT_MS = 2000;
const FORM_TIMEOUT_MS = 20_000;
const OUTPUT_TAIL = 4000;

interface StartedNode extends ClusterNode {
  child: ChildProcess;
  output: () => string;
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 3) throw new Error(`a Redis Cluster needs at least 3 masters, not ${masters}`);
  const dir = await mkdtemp(join(tmpdir(), 'books-redis-cluster-'));
  const started: StartedNode[] = [];
  try {
    // Each node also listens on a cluster bus port; without --cluster-port it is port + 10000,
    // past 65535 for a port above 55535 (Linux hands out up to 60999), so it is picked as well.
    const free = await distinctFreePorts(masters * 2);
    for (let i = 0; i < masters; i++) {
      started.push(await startNode(dir, free[i * 2] as number, free[i * 2 + 1] as number));
    }
    await Promise.all(started.map((node) => waitUntilAnswering(node)));

    const create = await run(
      'redis-cli',
      ['--cluster', 'create', ...started.map((node) => node.address), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: FORM_TIMEOUT_MS },
    ).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    for (const node of started) node.id = await node.admin.cluster('MYID');
    await waitUntilFormed(started, `${create.stdout}${create.stderr}`);
  } catch (err) {
    await Promise.all(started.map((node) => closeNode(node)));
    await rm(dir, { recursive: true, force: true });
    const logs = started.map((node) => `--- ${node.address}\n${node.output()}`).join('\n');
    throw new Error(`the Redis Cluster in ${dir} did not start: ${(err as Error).message}\n${logs}`, { cause: err });
  }

  const nodes = started.map((node) => node.address);
  // The servers die with this process (see tethered-process.ts); their directory goes too, if
  // JavaScript still runs at the end (not after a SIGKILL).
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  let stopping: Promise<void> | undefined;
  return {
    nodes,
    ports: started.map((node) => node.port),
    nodesEnv: nodes.join(','),
    dir,
    slotOwner: (slot) => slotOwner(started, slot),
    moveSlot: (slot, toNode, moveOptions) => moveSlot(started, slot, toNode, moveOptions),
    stop() {
      stopping ??= (async () => {
        process.removeListener('exit', removeDir);
        await Promise.all(started.map((node) => closeNode(node)));
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function startNode(dir: string, port: number, busPort: number): Promise<StartedNode> {
  const nodeDir = join(dir, String(port));
  await mkdir(nodeDir);
  const config = {
    port,
    bind: HOST,
    'cluster-enabled': 'yes',
    'cluster-port': busPort,
    'cluster-config-file': join(dir, `nodes-${port}.conf`),
    'cluster-node-timeout': NODE_TIMEOUT_MS,
    save: '',
    appendonly: 'no',
    dir: nodeDir,
  };
  const args = Object.entries(config).flatMap(([name, value]) => [`--${name}`, String(value)]);
  const child = spawnTethered('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // The last few KB of the server's log, for the error when it fails to start.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('error', (err) => keep(Buffer.from(`${err.message}\n`)));
  // Connects on its first command, once the server answers.
  const admin = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 1 });
  // The admin connection is closed on purpose when the node is killed; its errors are not the test's.
  admin.on('error', () => {});
  return { address: `${HOST}:${port}`, host: HOST, port, id: '', admin, child, output: () => output };
}

async function waitUntilAnswering(node: StartedNode): Promise<void> {
  const probe = new Redis({ host: HOST, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    for (let i = 0; i < 200; i++) {
      if (node.child.exitCode !== null || node.child.signalCode !== null || node.child.pid === undefined) {
        throw new Error(`redis-server on port ${node.port} exited during start-up`);
      }
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        probe.disconnect();
        await sleep(50);
      }
    }
    throw new Error(`redis-server on port ${node.port} did not answer PING`);
  } finally {
    probe.disconnect();
  }
}

/** Every node must see the whole cluster healthy before a client is handed the seed list. */
async function waitUntilFormed(nodes: StartedNode[], createOutput: string): Promise<void> {
  const deadline = Date.now() + FORM_TIMEOUT_MS;
  let infos: string[] = [];
  while (Date.now() < deadline) {
    infos = await Promise.all(nodes.map((node) => node.admin.cluster('INFO') as Promise<string>));
    const formed = infos.every((info) => {
      const fields = parseInfo(info);
      return (
        fields.cluster_state === 'ok' && fields.cluster_slots_assigned === '16384' && fields.cluster_known_nodes === String(nodes.length)
      );
    });
    if (formed) return;
    await sleep(100);
  }
  const states = nodes.map((node, i) => `${node.address}: ${summarize(parseInfo(infos[i] ?? ''))}`).join('\n');
  throw new Error(
    `not every node reported cluster_state:ok with 16384 slots within ${FORM_TIMEOUT_MS} ms\n${states}\nredis-cli said:\n${createOutput}`,
  );
}

function parseInfo(info: string): Record<string, string> {
  return Object.fromEntries(
    info
      .split(/\r?\n/)
      .map((line) => line.split(':'))
      .filter((parts) => parts.length === 2),
  );
}

function summarize(fields: Record<string, string>): string {
  return `state=${fields.cluster_state} slots_assigned=${fields.cluster_slots_assigned} known_nodes=${fields.cluster_known_nodes}`;
}

async function closeNode(node: StartedNode): Promise<void> {
  node.admin.disconnect();
  await killAndWait(node.child);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
