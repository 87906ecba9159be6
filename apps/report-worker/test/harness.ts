import { randomBytes } from 'node:crypto';
import { type App, buildApp } from '@books/api';
import { createBulkDeps, runBulkPass } from '@books/bulk-worker';
import { loadReportWorkerConfig } from '@books/core/config';
import { createSmtpCatcher, createTestContext, type ReceivedMail, type SmtpCatcher, type TestContext } from '@books/testing';

export { pdfText } from '@books/testing';

import { pino } from 'pino';
import { createReportDeps } from '../src/wiring.js';

export const silent = pino({ level: 'silent' });
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
  const bulk = createBulkDeps(ctx.bulkWorkerConfig, silent);
  const opened: ReportTestDeps[] = [];
  const replica = (extra: Record<string, string> = {}) => {
    const deps = createReportDeps(loadReportWorkerConfig({ ...ctx.env, ...extra }), silent);
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

export interface User {
  id: string;
  username: string;
  email: string;
  auth: { authorization: string };
}

export async function signup(app: App, username?: string): Promise<User> {
  const name = username ?? `reader_${randomBytes(3).toString('hex')}`;
  const res = await app.inject({
    method: 'POST',
    url: '/auth/signup',
    payload: { username: name, email: `${name}@example.com`, password: 'a long enough password' },
  });
  if (res.statusCode !== 201) throw new Error(`signup: ${res.statusCode} ${res.body}`);
  const body = res.json();
  return { id: body.data.id, username: name, email: body.data.email, auth: { authorization: `Bearer ${body.token}` } };
}

export async function submit(app: App, user: User, books: unknown[]): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/books/bulk', headers: user.auth, payload: { books } });
  if (res.statusCode !== 202) throw new Error(`bulk: ${res.statusCode} ${res.body}`);
  return res.json().data.requestId;
}

export const requestView = async (app: App, user: User, requestId: string) =>
  (await app.inject({ method: 'GET', url: `/books/bulk/${requestId}`, headers: user.auth })).json().data;

export const mailsTo = (smtp: SmtpCatcher, email: string): ReceivedMail[] => smtp.messages.filter((m) => m.envelope.to.includes(email));

export function pdfOf(mail: ReceivedMail): Buffer {
  const attachment = mail.parsed.attachments.find((a) => a.contentType === 'application/pdf');
  if (!attachment) throw new Error('no PDF attached');
  return attachment.content;
}

export const validBooks = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, n) => ({ title: `${prefix} volume ${n + 1}`, author: `Author ${n % 5}` }));
