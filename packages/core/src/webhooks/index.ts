// Completion webhooks: the URL rules (checked on PUT and before each delivery), the delivery id of
// an event, and the event list in Redis.
export * from './delivery-id.js';
export * from './events.js';
export * from './url-policy.js';
