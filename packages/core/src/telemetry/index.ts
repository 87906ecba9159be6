// Spans of our own work, and the trace context that carries one import's trace from the API's
// request through the bulk worker's insert to the report worker's email (stored with the request
// in Redis as a W3C `traceparent`). Only @opentelemetry/api here: without a started SDK (see
// start.ts; tracing is off unless an OTLP endpoint is set) every call is a no-op of the API package.
import { type Attributes, context, type Link, propagation, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = () => trace.getTracer('books-service');

/** The active trace context as a W3C traceparent, to store with work handed to another process. */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

const contextFrom = (traceparent: string | null | undefined) =>
  traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : context.active();

function linkTo(traceparent: string): Link | null {
  const spanContext = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }));
  return spanContext ? { context: spanContext } : null;
}

export interface SpanOptions {
  /** A stored traceparent to continue (another process's work); else the active context. */
  parent?: string | null | undefined;
  /** Other traces this work also serves (a report covering several imports). */
  links?: readonly (string | null | undefined)[];
  attributes?: Attributes;
}

/** Runs `fn` inside a span; an error marks the span failed and is rethrown. */
export async function inSpan<T>(name: string, options: SpanOptions, fn: () => Promise<T>): Promise<T> {
  const links = (options.links ?? []).flatMap((parent) => (parent ? (linkTo(parent) ?? []) : []));
  const parentContext = contextFrom(options.parent);
  const span = tracer().startSpan(name, { attributes: options.attributes, links }, parentContext);
  return context.with(trace.setSpan(parentContext, span), async () => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** A span for time that passed without a process working on it (an import waiting in the queue). */
export function recordWaitSpan(name: string, options: SpanOptions & { start: Date; end: Date }): void {
  const span = tracer().startSpan(name, { attributes: options.attributes, startTime: options.start }, contextFrom(options.parent));
  span.end(options.end);
}

let flush: () => Promise<void> = async () => {};
let tracing = false;

/** Set by start.ts once the SDK runs: `fn` exports the spans still buffered. */
export function onTracingFlush(fn: () => Promise<void>): void {
  flush = fn;
  tracing = true;
}

/** Whether spans go anywhere: lets a caller skip reads it would make only for a span. */
export const isTracing = () => tracing;

/** Called on shutdown so that the last spans are not lost; never throws. */
export async function flushTracing(): Promise<void> {
  await flush().catch(() => {});
}
