// A bulk request: submit, records read back, the stage machine and every transition of its stage.
export * from './admin.js';
export * from './cancel.js';
export * from './records.js';
export * from './redrive.js';
export * from './report-transitions.js';
export * from './retry-delay.js';
export * from './stage-machine.js';
export * from './staged-submit.js';
export * from './submit.js';
export * from './worker-transitions.js';
