// The small HTTP listener a process keeps beside its work: /metrics in the Prometheus text format
// and, for a worker, /health/live and /health/ready. node:http only: a worker has no Fastify, and
// three routes need no framework.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BaseLogger } from 'pino';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  /** Per check: 'ok', or why not (a fixed phrase, never a driver's message: the route is unauthenticated). */
  checks: Record<string, string>;
}

export interface OpsServerOptions {
  host: string;
  /** 0: any free port (the answer says which). */
  port: number;
  registry: Registry;
  // BaseLogger: Fastify's logger is one too.
  log: Pick<BaseLogger, 'info' | 'error'>;
  /** Serves /health/live and /health/ready when given. */
  readiness?: () => Promise<Readiness>;
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const { registry, log, readiness } = options;
  const server = createServer((request, response) => {
    const send = (status: number, contentType: string, body: string) => {
      response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
      response.end(body);
    };
    const json = (status: number, body: unknown) => send(status, 'application/json; charset=utf-8', JSON.stringify(body));
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { success: false, error: 'method not allowed' });
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        (err: unknown) => {
          log.error({ err }, 'could not collect the metrics');
          json(500, { success: false, error: 'could not collect the metrics' });
        },
      );
      return;
    }
    if (readiness && path === '/health/live') return json(200, { success: true, status: 'alive' });
    if (readiness && path === '/health/ready') {
      readiness().then(
        (state) =>
          json(state.ready ? 200 : 503, { success: state.ready, status: state.ready ? 'ready' : 'not ready', checks: state.checks }),
        (err: unknown) => {
          log.error({ err }, 'readiness check failed');
          json(503, { success: false, status: 'not ready', checks: {} });
        },
      );
      return;
    }
    json(404, { success: false, error: 'not found' });
  });
  // A scraper's keep-alive connection must not hold the process open at shutdown.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  log.info({ host: options.host, port, probes: Boolean(readiness) }, `metrics listening on ${options.host}:${port}`);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
