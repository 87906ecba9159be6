// Where a key lives in a Redis Cluster, and moving a slot live between masters, as
// `redis-cli --cluster reshard` does, slowly enough that a test can act while it is half-moved.
import calculateSlot from 'cluster-key-slot';
import type { Redis } from 'ioredis';

export const SLOTS = 16384;

/** The hash slot of a key, as every node and client computes it (only the `{tag}` counts, if any). */
export function keySlot(key: string): number {
  return calculateSlot(key);
}

export interface ClusterNode {
  /** `host:port`, as clients and CLUSTER SLOTS name it. */
  address: string;
  host: string;
  port: number;
  id: string;
  /** An ordinary (non-cluster) connection to this node alone, for admin commands. */
  admin: Redis;
}

export interface MoveSlotOptions {
  /** Keys per MIGRATE (redis-cli's --cluster-pipeline default is 10). */
  batch?: number;
  /** A pause after each batch, so a test can read and write while the slot is half-moved. */
  pauseMs?: number;
}

// Per MIGRATE: the source waits this long for the target's answer.
const MIGRATE_TIMEOUT_MS = 5000;

type SlotRange = [start: number, end: number, ...nodes: [host: string, port: number, ...rest: unknown[]][]];

export async function slotOwner(nodes: ClusterNode[], slot: number): Promise<string> {
  checkSlot(slot);
  // Any node's view will do: moveSlot tells every master the new owner before it returns.
  const ranges = (await (nodes[0] as ClusterNode).admin.cluster('SLOTS')) as unknown as SlotRange[];
  for (const [start, end, master] of ranges) {
    if (slot >= start && slot <= end && master) return `${master[0]}:${master[1]}`;
  }
  throw new Error(`slot ${slot} is served by no node`);
}

export async function moveSlot(
  nodes: ClusterNode[],
  slot: number,
  toNode: string,
  options: MoveSlotOptions = {},
): Promise<{ keysMoved: number }> {
  const batch = options.batch ?? 10;
  const pauseMs = options.pauseMs ?? 0;
  const target = nodes.find((node) => node.address === toNode);
  if (!target) throw new Error(`${toNode} is not a node of this cluster (${nodes.map((node) => node.address).join(', ')})`);
  const ownerAddress = await slotOwner(nodes, slot);
  const source = nodes.find((node) => node.address === ownerAddress);
  if (!source) throw new Error(`slot ${slot} is served by ${ownerAddress}, which is not a node of this cluster`);
  if (source === target) throw new Error(`slot ${slot} is already served by ${toNode}`);

  // Importing first: from the moment the source says MIGRATING it sends clients to the target
  // with ASK, and the target must already accept them.
  await target.admin.cluster('SETSLOT', slot, 'IMPORTING', source.id);
  await source.admin.cluster('SETSLOT', slot, 'MIGRATING', target.id);

  let keysMoved = 0;
  for (;;) {
    const keys = (await source.admin.cluster('GETKEYSINSLOT', slot, batch)) as string[];
    if (keys.length === 0) break;
    // Without REPLACE: a key already on the target would mean two versions of it, a BUSYKEY error to see, not to overwrite.
    const reply = await source.admin.call('MIGRATE', target.host, target.port, '', 0, MIGRATE_TIMEOUT_MS, 'KEYS', ...keys);
    // NOKEY: all of the batch expired or was deleted between GETKEYSINSLOT and MIGRATE.
    if (reply !== 'NOKEY') keysMoved += keys.length;
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }

  // The target first: it takes the slot with a new config epoch, which wins over any stale view
  // gossiped by the others; then the source stops redirecting with ASK, then everyone else learns.
  await target.admin.cluster('SETSLOT', slot, 'NODE', target.id);
  await source.admin.cluster('SETSLOT', slot, 'NODE', target.id);
  await Promise.all(
    nodes.filter((node) => node !== source && node !== target).map((node) => node.admin.cluster('SETSLOT', slot, 'NODE', target.id)),
  );
  return { keysMoved };
}

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS) throw new Error(`a slot is an integer from 0 to ${SLOTS - 1}, not ${slot}`);
}
