// What every process shares at run time: the logger, the check of the servers' versions, shutdown.
export * from './logger.js';
export * from './server-versions.js';
export * from './shutdown.js';
