// Preloaded before the worker (`node --import ./dist/tracing.js dist/main.js`): OpenTelemetry can
// patch only what is imported after it starts. Does nothing unless an OTLP endpoint is configured.
import { loadTracingConfigOrExit } from '@books/core/config';
import { startTracing } from '@books/core/telemetry/start';

await startTracing(loadTracingConfigOrExit(process.env, 'books-report-worker'));
