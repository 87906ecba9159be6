export * from './jobs/gather-report.js';
export * from './jobs/report-pass.js';
export * from './jobs/report-user.js';
export * from './mail/report-email.js';
export * from './mail/transport.js';
export * from './report-data.js';
export * from './wiring.js';
