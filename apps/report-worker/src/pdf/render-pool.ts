// Renders reports in worker threads that are thrown away after `recycleAfter` renders, or sooner
// once their heap passes `recycleHeapMb`: react-pdf leaks memory with every render in a long-lived
// process (react-pdf#2848; about 0.15 MB a one-page report here), and a thread's memory is all
// returned when it ends. A failed render rejects only its own promise; a thread that dies or hangs
// is replaced on the next render.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ReportData } from '../report-data.js';
import type { RenderJob, RenderReply } from './render-thread.js';

// A small heap keeps each thread's footprint near what a render needs: V8 collects sooner instead
// of growing into the machine's memory. A render that hits it fails alone and the thread is replaced.
const OLD_GENERATION_MB = 256;
// A render allocates tens of MB of short-lived objects: with V8's 8 MB young generation they were
// scavenged several times a render; 16 MB made a one-page render ~5% faster for ~10 MB of RSS.
const YOUNG_GENERATION_MB = 16;

export interface PdfRendererOptions {
  /** Renders a thread does before it is replaced. Default 500: a new thread's first render costs about
   * a second more (loading, JIT, font parsing), 0.4% of 500 renders, while 500 one-page renders leak
   * some 75 MB. */
  recycleAfter?: number;
  /** A thread whose heap holds more than this after a render is replaced, whatever its count, so that
   * no mix of reports walks it into its 256 MB limit. Default 160: a one-page report leaves 50-75 MB
   * in use (garbage included), a 300-failure one up to ~95 MB. */
  recycleHeapMb?: number;
  /** Threads rendering at once; react-pdf is CPU-bound, so more than the cores is waste. Default 1. */
  concurrency?: number;
  /** A render taking longer is rejected and its thread terminated. Default 120 s. */
  timeoutMs?: number;
}

export interface PdfRendererStats {
  threadsStarted: number;
  threadsRunning: number;
  /** Renders finished, successful or not. */
  renders: number;
  failures: number;
  queued: number;
}

export interface PdfRenderer {
  render(data: ReportData): Promise<Buffer>;
  stats(): PdfRendererStats;
  /** Rejects renders not yet started, waits for the ones running, then ends the threads. */
  close(): Promise<void>;
}

export type PdfRenderErrorCode = 'PDF_RENDER_FAILED' | 'PDF_RENDER_TIMEOUT' | 'PDF_THREAD_EXITED' | 'PDF_RENDERER_CLOSED';

export class PdfRenderError extends Error {
  override readonly name = 'PdfRenderError';
  constructor(
    readonly code: PdfRenderErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Task {
  id: number;
  data: ReportData;
  resolve(pdf: Buffer): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  renders: number;
  task: Task | null;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The thread entry is always compiled JavaScript: next to this file in dist/, or, when this file
 * runs from src/ under vitest, the package's dist/ build (so tests need `pnpm build` first, which
 * turbo's test task does). There is no in-process fallback: it would hide the very leak this bounds.
 */
export function resolveRenderThreadEntry(): URL {
  const candidates = [new URL('./render-thread.js', import.meta.url), new URL('../../dist/pdf/render-thread.js', import.meta.url)];
  const found = candidates.find((url) => existsSync(fileURLToPath(url)));
  if (!found) {
    throw new PdfRenderError(
      'PDF_RENDER_FAILED',
      'dist/pdf/render-thread.js is missing: build the package first (pnpm --filter @books/report-worker build)',
    );
  }
  return found;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer (got ${value})`);
  return value;
}

export function createPdfRenderer(options: PdfRendererOptions = {}): PdfRenderer {
  const recycleAfter = positiveInteger('recycleAfter', options.recycleAfter ?? 500);
  const recycleHeapBytes = positiveInteger('recycleHeapMb', options.recycleHeapMb ?? 160) * 1024 * 1024;
  const concurrency = positiveInteger('concurrency', options.concurrency ?? 1);
  const timeoutMs = positiveInteger('timeoutMs', options.timeoutMs ?? 120_000);
  const entry = resolveRenderThreadEntry();

  const queue: Task[] = [];
  const slots = new Set<Slot>();
  const ending = new Set<Promise<number>>();
  const running = new Set<Promise<unknown>>();
  const counters = { threadsStarted: 0, renders: 0, failures: 0 };
  let nextId = 1;
  let closed = false;

  function end(slot: Slot): void {
    // Removed first, so the 'exit' event that follows reads as expected, not as a crash.
    slots.delete(slot);
    clearTimeout(slot.timer);
    const ended = slot.worker.terminate();
    ending.add(ended);
    void ended.finally(() => ending.delete(ended));
  }

  function finish(slot: Slot, outcome: { pdf: Buffer } | { error: Error }, heapUsedBytes: number): void {
    const task = slot.task;
    if (!task) return;
    clearTimeout(slot.timer);
    slot.task = null;
    slot.renders += 1;
    counters.renders += 1;
    if ('pdf' in outcome) task.resolve(outcome.pdf);
    else {
      counters.failures += 1;
      task.reject(outcome.error);
    }
    if (slot.renders >= recycleAfter || heapUsedBytes > recycleHeapBytes) end(slot);
    // An idle thread must not keep the process alive; a busy one must.
    else slot.worker.unref();
    pump();
  }

  function lose(slot: Slot, cause: unknown): void {
    if (!slots.has(slot)) return;
    slots.delete(slot);
    clearTimeout(slot.timer);
    const task = slot.task;
    slot.task = null;
    if (task) {
      counters.renders += 1;
      counters.failures += 1;
      task.reject(new PdfRenderError('PDF_THREAD_EXITED', 'the PDF render thread stopped during the render', { cause }));
    }
    pump();
  }

  function spawn(): Slot {
    const worker = new Worker(entry, {
      name: 'pdf-render',
      resourceLimits: { maxOldGenerationSizeMb: OLD_GENERATION_MB, maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      // React's production build whatever the process runs as: the development one checks every
      // element, renders ~20% slower and leaks about 2.5 times as much per render.
      env: { ...process.env, NODE_ENV: 'production' },
    });
    const slot: Slot = { worker, renders: 0, task: null, timer: undefined };
    worker.on('message', (reply: RenderReply) => {
      if (slot.task?.id !== reply.id) return;
      if (reply.ok) finish(slot, { pdf: Buffer.from(reply.pdf) }, reply.heapUsedBytes);
      else {
        const cause = Object.assign(new Error(reply.error.message), { name: reply.error.name, stack: reply.error.stack });
        finish(
          slot,
          { error: new PdfRenderError('PDF_RENDER_FAILED', `PDF render failed: ${reply.error.message}`, { cause }) },
          reply.heapUsedBytes,
        );
      }
    });
    worker.on('error', (err) => lose(slot, err));
    worker.on('exit', (code) => lose(slot, new Error(`render thread exited with code ${code}`)));
    slots.add(slot);
    counters.threadsStarted += 1;
    return slot;
  }

  function assign(slot: Slot, task: Task): void {
    slot.task = task;
    slot.worker.ref();
    slot.timer = setTimeout(() => {
      if (slot.task !== task) return;
      slot.task = null;
      counters.renders += 1;
      counters.failures += 1;
      end(slot);
      task.reject(new PdfRenderError('PDF_RENDER_TIMEOUT', `PDF render took longer than ${timeoutMs} ms`));
      pump();
    }, timeoutMs);
    const job: RenderJob = { id: task.id, data: task.data };
    try {
      slot.worker.postMessage(job);
    } catch (err) {
      // Data that cannot be cloned (a function, a symbol) never reached the thread, which stays usable.
      clearTimeout(slot.timer);
      slot.task = null;
      slot.worker.unref();
      counters.failures += 1;
      task.reject(new PdfRenderError('PDF_RENDER_FAILED', 'report data cannot be sent to the render thread', { cause: err }));
    }
  }

  function pump(): void {
    while (queue.length > 0) {
      let slot: Slot | undefined;
      for (const candidate of slots) if (candidate.task === null) slot = candidate;
      if (!slot && slots.size < concurrency) slot = spawn();
      if (!slot) return;
      assign(slot, queue.shift()!);
    }
  }

  return {
    render(data) {
      if (closed) return Promise.reject(new PdfRenderError('PDF_RENDERER_CLOSED', 'the PDF renderer is closed'));
      const rendered = new Promise<Buffer>((resolve, reject) => {
        queue.push({ id: nextId++, data, resolve, reject });
      });
      const tracked = rendered.catch(() => undefined);
      running.add(tracked);
      void tracked.finally(() => running.delete(tracked));
      pump();
      return rendered;
    },

    stats() {
      return { ...counters, threadsRunning: slots.size, queued: queue.length };
    },

    async close() {
      closed = true;
      for (const task of queue.splice(0))
        task.reject(new PdfRenderError('PDF_RENDERER_CLOSED', 'the PDF renderer closed before this render started'));
      await Promise.all(running);
      for (const slot of [...slots]) end(slot);
      await Promise.all(ending);
    },
  };
}
