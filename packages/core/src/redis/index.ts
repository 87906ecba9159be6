// Redis: the client, the key builders, leases and the Lua script kit.
export * from './client.js';
export * from './keys.js';
export * from './lease.js';
export * from './per-slot.js';
export * from './rate-limit-script.js';
export * from './script-registry.js';
export * from './scripts.js';
export * from './sharded-index.js';
export * from './work-list.js';
