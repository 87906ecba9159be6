// Worker-thread entry for render-pool.ts: renders one report at a time and hands the bytes back.
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import type { ReportData } from '../report-data.js';
import { renderReportPdf } from './render.js';

export interface RenderJob {
  id: number;
  data: ReportData;
}

/** Every reply says how much of this thread's heap is in use, so the pool can replace a thread that grew. */
export type RenderReply = { id: number; heapUsedBytes: number } & (
  | { ok: true; pdf: ArrayBuffer }
  | { ok: false; error: { name: string; message: string; stack?: string } }
);

if (!parentPort) throw new Error('render-thread.js runs as a worker thread of render-pool.js, not on its own');
const port = parentPort;

/** The PDF's bytes as an ArrayBuffer of their own, so they can be transferred rather than copied. */
function ownBytes(pdf: Buffer): ArrayBuffer {
  const whole = pdf.byteOffset === 0 && pdf.byteLength === pdf.buffer.byteLength;
  // A small Buffer may sit in Node's shared allocation pool; transferring that would detach the pool.
  return whole ? (pdf.buffer as ArrayBuffer) : (pdf.buffer.slice(pdf.byteOffset, pdf.byteOffset + pdf.byteLength) as ArrayBuffer);
}

async function handle(job: RenderJob): Promise<void> {
  let reply: RenderReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const pdf = ownBytes(await renderReportPdf(job.data));
    reply = { id: job.id, ok: true, pdf, heapUsedBytes: getHeapStatistics().used_heap_size };
    transfer = [pdf];
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    reply = {
      id: job.id,
      ok: false,
      error: { name: error.name, message: error.message, stack: error.stack },
      heapUsedBytes: getHeapStatistics().used_heap_size,
    };
  }
  port.postMessage(reply, transfer);
}

port.on('message', (job: RenderJob) => {
  void handle(job);
});
