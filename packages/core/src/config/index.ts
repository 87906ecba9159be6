// Configuration: the only code that reads environment variables. One loader per process.
export * from './duration.js';
export { ConfigError, type EnvOf } from './env.js';
export type { DatastoresConfig, LoggingConfig, SmtpConfig, TracingConfig } from './fragments.js';
export * from './processes.js';
