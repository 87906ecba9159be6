// Configuration: the only code that reads environment variables.
export * from './duration.js';
export * from './load.js';
