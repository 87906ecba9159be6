// Account emails (verification links, password-reset codes): queued by the API, sent by the report worker.
export * from './outbox.js';
export * from './queue.js';
