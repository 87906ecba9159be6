// Each report test file's worker, SMTP catcher and datastores. Imports to report on are built with
// @books/testing's finishImport/failImport (core's transitions), not by running the bulk worker.
import { loadReportWorkerConfig } from '@books/core/config';
import {
  createSmtpCatcher,
  createTestContext,
  expectRunsDeployment,
  type ImportStores,
  type ReceivedMail,
  type SmtpCatcher,
  silentLogger,
  type TestContext,
} from '@books/testing';

export { pdfText } from '@books/testing';

import { createReportDeps } from '../src/wiring.js';

export type ReportTestDeps = ReturnType<typeof createReportDeps>;

export interface ReportHarness {
  ctx: TestContext;
  smtp: SmtpCatcher;
  deps: ReportTestDeps;
  /** The worker's database and Redis clients, for building imports and users. */
  stores: ImportStores;
  /** Another report worker replica with its own clients. */
  replica(env?: Record<string, string>): ReportTestDeps;
  close(): Promise<void>;
}

export async function startReportHarness(label: string, env: Record<string, string> = {}): Promise<ReportHarness> {
  const smtp = await createSmtpCatcher();
  await smtp.start();
  const ctx = await createTestContext(label, { ...smtp.env, COMPANY_NAME: 'Acme Books Ltd', REPORT_MAX_ATTEMPTS: '3', ...env });
  const opened: ReportTestDeps[] = [];
  const replica = (extra: Record<string, string> = {}) => {
    const deps = createReportDeps(loadReportWorkerConfig({ ...ctx.env, ...extra }), silentLogger);
    opened.push(deps);
    return deps;
  };
  const deps = replica();
  expectRunsDeployment(deps.redis, Boolean(ctx.env.REDIS_CLUSTER_NODES));
  return {
    ctx,
    smtp,
    deps,
    stores: { db: deps.db, redis: deps.redis, keys: deps.keys },
    replica,
    async close() {
      await Promise.all(opened.map((deps) => deps.close()));
      await smtp.stop();
      await ctx.cleanup();
    },
  };
}

export const mailsTo = (smtp: SmtpCatcher, email: string): ReceivedMail[] => smtp.messages.filter((m) => m.envelope.to.includes(email));

export function pdfOf(mail: ReceivedMail): Buffer {
  const attachment = mail.parsed.attachments.find((a) => a.contentType === 'application/pdf');
  if (!attachment) throw new Error('no PDF attached');
  return attachment.content;
}

export const validBooks = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, n) => ({ title: `${prefix} volume ${n + 1}`, author: `Author ${n % 5}` }));
