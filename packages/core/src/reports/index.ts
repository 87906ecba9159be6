// Stored reports: the resend queue between the API and the report worker. The rows themselves are
// Postgres (`@books/core/db`, reports-queries.ts).
export * from './resend-queue.js';
