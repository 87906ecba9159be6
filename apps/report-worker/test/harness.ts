import { type App, buildApp } from '@books/api';
import { createBulkDeps, runBulkPass } from '@books/bulk-worker';
import { loadReportWorkerConfig } from '@books/core/config';
import {
  createSmtpCatcher,
  createTestContext,
  type ReceivedMail,
  type SmtpCatcher,
  silentLogger,
  type TestContext,
  type TestUser,
} from '@books/testing';

export { pdfText } from '@books/testing';

import { createReportDeps } from '../src/wiring.js';

export type ReportTestDeps = ReturnType<typeof createReportDeps>;

export interface ReportHarness {
  ctx: TestContext;
  app: App;
  smtp: SmtpCatcher;
  deps: ReportTestDeps;
  /** Another report worker replica with its own clients. */
  replica(env?: Record<string, string>): ReportTestDeps;
  /** Runs the bulk worker once, as its --once would. */
  drainBulk(): Promise<unknown>;
  close(): Promise<void>;
}

export async function startReportHarness(label: string, env: Record<string, string> = {}): Promise<ReportHarness> {
  const smtp = await createSmtpCatcher();
  await smtp.start();
  const ctx = await createTestContext(label, { ...smtp.env, COMPANY_NAME: 'Acme Books Ltd', REPORT_MAX_ATTEMPTS: '3', ...env });
  const app = await buildApp(ctx.config, { logger: false });
  await app.ready();
  const bulk = createBulkDeps(ctx.bulkWorkerConfig, silentLogger);
  const opened: ReportTestDeps[] = [];
  const replica = (extra: Record<string, string> = {}) => {
    const deps = createReportDeps(loadReportWorkerConfig({ ...ctx.env, ...extra }), silentLogger);
    opened.push(deps);
    return deps;
  };
  return {
    ctx,
    app,
    smtp,
    deps: replica(),
    replica,
    drainBulk: () => runBulkPass(bulk),
    async close() {
      await app.close();
      await bulk.close();
      await Promise.all(opened.map((deps) => deps.close()));
      await smtp.stop();
      await ctx.cleanup();
    },
  };
}

export const requestView = async (app: App, user: TestUser, requestId: string) =>
  (await app.inject({ method: 'GET', url: `/books/bulk/${requestId}`, headers: user.auth })).json().data;

export const mailsTo = (smtp: SmtpCatcher, email: string): ReceivedMail[] => smtp.messages.filter((m) => m.envelope.to.includes(email));

export function pdfOf(mail: ReceivedMail): Buffer {
  const attachment = mail.parsed.attachments.find((a) => a.contentType === 'application/pdf');
  if (!attachment) throw new Error('no PDF attached');
  return attachment.content;
}

export const validBooks = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, n) => ({ title: `${prefix} volume ${n + 1}`, author: `Author ${n % 5}` }));
