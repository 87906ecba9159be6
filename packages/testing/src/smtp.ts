// A real SMTP server in the test process (smtp-server), keeping every message it accepts,
// parsed (mailparser), so tests can read what a user would find in their inbox.
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from './redis-server.js';

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  parsed: ParsedMail;
}

export interface SmtpCatcher {
  host: string;
  port: number;
  /** Everything accepted so far. */
  messages: ReceivedMail[];
  /** Answer RCPT TO for these addresses with a permanent 550. */
  rejectRecipients: Set<string>;
  /** Answer DATA with a temporary 451 while true. */
  deferAll: boolean;
  /**
   * Wait this long before answering the end of DATA. The message is kept before the wait, as a
   * real server that has queued it would: a client that gives up meanwhile has still delivered it.
   */
  answerDelayMs: number;
  /** The env a process under test needs to send here. */
  env: Record<string, string>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function createSmtpCatcher(): Promise<SmtpCatcher> {
  const port = await freePort();
  let server: SMTPServer | undefined;
  // Late answers still pending when the server stops: their connections are gone, so drop them.
  const answerTimers = new Set<NodeJS.Timeout>();
  const catcher: SmtpCatcher = {
    host: '127.0.0.1',
    port,
    messages: [],
    rejectRecipients: new Set(),
    deferAll: false,
    answerDelayMs: 0,
    env: {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(port),
      SMTP_SECURE: 'false',
      FROM_EMAIL: 'reports@books.test',
      FROM_NAME: 'Books Reports',
    },
    async start() {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        // Stopping must really drop pooled client connections, as an SMTP outage would.
        closeTimeout: 200,
        onRcptTo(address, _session, callback) {
          if (catcher.rejectRecipients.has(address.address.toLowerCase())) {
            return callback(Object.assign(new Error('5.1.1 mailbox unavailable'), { responseCode: 550 }));
          }
          callback();
        },
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', async () => {
            if (catcher.deferAll) return callback(Object.assign(new Error('4.3.0 try again later'), { responseCode: 451 }));
            const raw = Buffer.concat(chunks);
            catcher.messages.push({
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              raw,
              parsed: await simpleParser(raw),
            });
            if (catcher.answerDelayMs > 0) {
              const timer = setTimeout(() => {
                answerTimers.delete(timer);
                callback();
              }, catcher.answerDelayMs);
              answerTimers.add(timer);
            } else callback();
          });
        },
      });
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(port, '127.0.0.1', () => resolve());
      });
    },
    async stop() {
      const current = server;
      server = undefined;
      for (const timer of answerTimers) clearTimeout(timer);
      answerTimers.clear();
      if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
    },
  };
  return catcher;
}

/**
 * Account emails (verification links, reset codes) go to the same inboxes as reports; the report
 * worker gives them Message-IDs of their own, `<account-…>` (apps/report-worker/src/mail/account-email.ts).
 */
export const isAccountMail = (mail: ReceivedMail): boolean => (mail.parsed.messageId ?? '').startsWith('<account-');

/** The report emails received for an address, account emails left out. */
export const reportsTo = (smtp: Pick<SmtpCatcher, 'messages'>, email: string): ReceivedMail[] =>
  smtp.messages.filter((m) => !isAccountMail(m) && m.envelope.to.includes(email));
