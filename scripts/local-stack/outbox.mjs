// A local SMTP server that accepts every message and saves it under .data/outbox: the .eml and,
// beside it, each attachment (the report PDF), so a first report can be opened without any email
// account. Used by `pnpm start` when SMTP_HOST is not set.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from './ports.mjs';

const safe = (text) => text.replace(/[^A-Za-z0-9@._-]+/g, '_').slice(0, 80);

export async function startOutbox(dir, log) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks = [];
      stream.on('data', (chunk) => chunks.push(chunk));
      stream.on('end', async () => {
        try {
          const raw = Buffer.concat(chunks);
          const mail = await simpleParser(raw);
          const to = session.envelope.rcptTo.map((r) => r.address).join(',');
          const base = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${safe(to)}`);
          writeFileSync(`${base}.eml`, raw);
          const saved = mail.attachments.map((attachment) => {
            const file = `${base}-${safe(attachment.filename ?? 'attachment')}`;
            writeFileSync(file, attachment.content);
            return file;
          });
          log(`mail to ${to}: "${mail.subject}" saved to ${base}.eml${saved.length ? `, ${saved.join(', ')}` : ''}`);
          callback();
        } catch (err) {
          callback(err);
        }
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { host: '127.0.0.1', port, stop: () => new Promise((resolve) => server.close(resolve)) };
}
