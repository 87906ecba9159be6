// One trace from request to email: with an OTLP endpoint set, the API, the bulk worker and the
// report worker (real processes) export spans over OTLP/HTTP to a receiver in this test, and the
// import's POST, its wait in the queue, each chunk's insert, the render and the SMTP send are spans
// of the same trace. Logs written inside a span carry its trace_id.
import { createServer, type Server } from 'node:http';
import { freePort, reportsTo } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type System, signUp, startSystem, tag, waitFor } from './system.js';

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
}

let receiver: Server;
const spans: ReceivedSpan[] = [];
const received: string[] = [];
let system: System;

/** OTLP/HTTP with JSON encoding (OTEL_EXPORTER_OTLP_PROTOCOL=http/json): ids are hex strings. */
function collect(body: string) {
  const payload = JSON.parse(body) as {
    resourceSpans?: {
      resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
      scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string }[] }[];
    }[];
  };
  for (const resourceSpans of payload.resourceSpans ?? []) {
    const service = resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
    for (const scope of resourceSpans.scopeSpans ?? [])
      for (const span of scope.spans ?? [])
        spans.push({ service, traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId ?? '', name: span.name });
  }
}

beforeAll(async () => {
  const port = await freePort();
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push(req.url ?? '');
      if (req.url === '/v1/traces') collect(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
  system = await startSystem('e2e-tracing', {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
    BULK_CHUNK_SIZE: '2',
  });
  await system.start('api');
}, 60_000);

afterAll(async () => {
  await system?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

it('one trace holds the POST, the wait in the queue, each chunk insert, the render and the SMTP send, across the three processes', async () => {
  const user = await signUp(system, `traced_${tag()}`);
  const books = Array.from({ length: 5 }, (_, i) => ({ title: `Traced ${i}`, author: 'Tracer' }));
  const submitted = await system.api('POST', '/books/bulk', { token: user.token, body: { books } });
  expect(submitted.status).toBe(202);
  const bulkWorker = await system.start('bulk-worker');
  const reportWorker = await system.start('report-worker');
  await waitFor(
    async () => reportsTo(system.smtp, user.email).length === 1,
    60_000,
    () => reportWorker.output(),
  );

  const postSpan = () => spans.find((s) => s.service === 'books-api' && s.name.includes('/books/bulk'));
  // The batch processor exports every 200 ms; the report worker's last spans follow its email.
  await waitFor(
    async () => {
      const post = postSpan();
      return Boolean(post && spans.some((s) => s.traceId === post.traceId && s.name === 'report.smtp_send'));
    },
    20_000,
    () => JSON.stringify(spans.map((s) => [s.service, s.name]).slice(-40)),
  );
  const trace = spans.filter((s) => s.traceId === postSpan()!.traceId);
  const names = (service: string) => trace.filter((s) => s.service === service).map((s) => s.name);
  expect(names('books-api').length).toBeGreaterThan(0);
  expect(names('books-bulk-worker')).toEqual(expect.arrayContaining(['bulk.queue_wait', 'bulk.process_request', 'bulk.insert_chunk']));
  // 5 books in chunks of 2: three inserts, each a child of the request's span.
  const request = trace.find((s) => s.name === 'bulk.process_request')!;
  expect(trace.filter((s) => s.name === 'bulk.insert_chunk' && s.parentSpanId === request.spanId)).toHaveLength(3);
  expect(names('books-report-worker')).toEqual(expect.arrayContaining(['report.user', 'report.render_pdf', 'report.smtp_send']));
  // The spans of one trace form one tree: every parent named is a span of the trace.
  const ids = new Set(trace.map((s) => s.spanId));
  for (const span of trace) if (span.parentSpanId) expect(ids.has(span.parentSpanId), `${span.service} ${span.name}`).toBe(true);

  // Traces only: no metrics or logs are pushed to the collector.
  expect(received.filter((url) => url !== '/v1/traces')).toEqual([]);
  // A log line written inside the request's span carries its trace id.
  const traceId = request.traceId;
  const lines = bulkWorker
    .output()
    .split('\n')
    .filter((line) => line.includes('"bulk request processed"'));
  expect(lines.some((line) => line.includes(`"trace_id":"${traceId}"`))).toBe(true);
}, 120_000);
