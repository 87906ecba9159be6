// A local SMTP sink for benchmarks: accepts every message on a loopback port and keeps what arrived,
// so that a benchmark can time the real mail path and then check who got what.
import { SMTPServer } from 'smtp-server';
import { freePort } from './processes.mjs';

/**
 * Starts the sink. `keepRaw: false` keeps only the envelope and size of each message (a long run
 * would otherwise hold every PDF in memory); `take()` hands over what arrived since the last call.
 */
export async function startSmtpSink({ keepRaw = true } = {}) {
  let messages = [];
  let total = 0;
  const server = new SMTPServer({
    // Plain SMTP on loopback, as the worker is configured (SMTP_SECURE=false): no TLS and no login.
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    // The worker's pool opens 5 connections; the default greeting delay and timeouts are fine.
    onData(stream, session, callback) {
      const chunks = [];
      let bytes = 0;
      stream.on('data', (chunk) => {
        bytes += chunk.length;
        if (keepRaw) chunks.push(chunk);
      });
      stream.on('end', () => {
        total++;
        messages.push({
          from: session.envelope.mailFrom?.address ?? null,
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          bytes,
          raw: keepRaw ? Buffer.concat(chunks) : null,
        });
        callback();
      });
    },
  });
  server.on('error', (err) => console.error(`smtp sink: ${err.message}`));
  const port = await freePort();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    /** Messages accepted since the sink started. */
    count: () => total,
    take() {
      const taken = messages;
      messages = [];
      return taken;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
