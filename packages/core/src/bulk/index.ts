// A bulk request: submit, records read back, and every transition of its stage.
export * from './records.js';
export * from './request-transitions.js';
