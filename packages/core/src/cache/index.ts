// The per-user books cache (a Redis hash with a generation), shared by the API and the bulk transitions.
export * from './books-cache.js';
