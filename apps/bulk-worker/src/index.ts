export * from './jobs/bulk-pass.js';
export * from './jobs/drain-user.js';
export * from './jobs/insert-chunk.js';
export * from './wiring.js';
