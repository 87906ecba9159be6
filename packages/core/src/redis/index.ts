// Redis: the client, the key builders and leases.
export * from './client.js';
export * from './keys.js';
export * from './lease.js';
