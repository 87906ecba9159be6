// Starts OpenTelemetry tracing for one process, before the process imports anything it should
// instrument: each app loads this through `node --import ./dist/tracing.js` (see its tracing.ts),
// because patching ioredis, pino and http works only for modules imported after the hooks are in.
// Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT) is set; then the SDK reads the
// standard OTEL_* variables itself (protocol, headers, sampler, batch delays). Traces only: metrics
// are Prometheus's (/metrics), and logs stay on stdout (with trace_id and span_id added).
import { register } from 'node:module';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { TracingConfig } from '../config/index.js';
import { onTracingFlush } from './index.js';

export async function startTracing(config: TracingConfig, extra: () => Promise<Instrumentation[]> = async () => []): Promise<boolean> {
  if (!config.enabled) return false;
  // ESM modules are patched through import-in-the-middle's loader hook.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const [{ NodeSDK }, { HttpInstrumentation }, { IORedisInstrumentation }, { PinoInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@opentelemetry/instrumentation-pino'),
  ]);
  const sdk = new NodeSDK({
    serviceName: config.serviceName,
    instrumentations: [
      new HttpInstrumentation(),
      new IORedisInstrumentation(),
      new PinoInstrumentation({ disableLogSending: true }),
      ...(await extra()),
    ],
    logRecordProcessors: [],
    metricReaders: [],
  });
  sdk.start();
  onTracingFlush(() => sdk.shutdown());
  return true;
}
