// What every process shares at run time: the logger and the check of the servers' versions.
export * from './logger.js';
export * from './server-versions.js';
