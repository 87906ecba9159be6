// cluster-key-slot ships no types: the CRC16 slot of a key, honouring a `{hash tag}`, as Redis computes it.
declare module 'cluster-key-slot' {
  function keySlot(key: string | Buffer): number;
  export default keySlot;
}
