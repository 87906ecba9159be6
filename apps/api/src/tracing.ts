// Preloaded before the server (`node --import ./dist/tracing.js dist/server.js`): OpenTelemetry can
// patch only what is imported after it starts. Does nothing unless an OTLP endpoint is configured.
import { loadTracingConfigOrExit } from '@books/core/config';
import { startTracing } from '@books/core/telemetry/start';

await startTracing(loadTracingConfigOrExit(process.env, 'books-api'), async () => {
  const { FastifyOtelInstrumentation } = await import('@fastify/otel');
  // Request spans by route template; the probes would only add noise.
  return [new FastifyOtelInstrumentation({ registerOnInitialization: true, ignorePaths: (route) => route.url.startsWith('/health') })];
});
