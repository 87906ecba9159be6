// Schemas defined once, reused for validation, types and the OpenAPI document.

export * from './account.js';
export * from './account-mail.js';
export * from './admin.js';
export * from './auth.js';
export * from './book-input.js';
export * from './books.js';
export * from './bulk.js';
export * from './common.js';
export * from './isbn.js';
export * from './reports.js';
export * from './webhooks.js';
export * from './workers.js';
