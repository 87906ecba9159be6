// Worker processes only: a croner schedule of passes, --once, bounded concurrency.
export * from './scheduled-worker.js';
