// cluster-key-slot ships no types; ioredis depends on the same package for its slot map.
declare module 'cluster-key-slot' {
  /** CRC16 of the key, or of its first non-empty `{hash tag}`, modulo 16384. */
  export default function calculateSlot(key: string | Buffer): number;
  /** The slot all the keys share; -1 if they do not. */
  export function generateMulti(keys: Array<string | Buffer>): number;
}
