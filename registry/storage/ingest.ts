// Upload ingest off the main thread. The main thread gathers request-body chunks into
// batches and hands them (zero-copy transfer) to one worker thread, which hashes and writes
// them at their file offsets. Bytes in flight are bounded, so memory stays flat and a slow
// disk slows the client down (backpressure) instead of filling memory.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Readable } from 'node:stream';

export type ToWorker =
  | { t: 'begin'; id: number; key: string; file: string; offset: number; hash: 'reset' | 'continue' | 'none' }
  | { t: 'data'; id: number; buf: ArrayBuffer; len: number }
  | { t: 'end'; id: number; clean: boolean }
  | { t: 'digest'; id: number; key: string }
  | { t: 'hashfile'; id: number; file: string; algorithm: string }
  | { t: 'drop'; key: string };

export type FromWorker =
  | { t: 'ack'; id: number; n: number; buf: ArrayBuffer }
  | { t: 'ended'; id: number; error: string | null; hashed: boolean }
  | { t: 'digest'; id: number; hex: string | null; error?: string };

const BATCH_BYTES = 512 * 1024;
const MAX_IN_FLIGHT = 4 * 1024 * 1024;
const POOL_MAX = 32;

export interface AppendResult {
  written: number;
  /** the worker's running sha256 covers the whole file */
  hashed: boolean;
}

export class Ingest {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly handlers = new Map<number, (m: FromWorker) => void>();
  /** batch buffers travel to the worker and back, so uploads make no garbage */
  private readonly pool: ArrayBuffer[] = [];
  /** bumps when a worker is replaced: hashes kept by the old one are gone */
  epoch = 0;
  private busyCount = 0;

  /** Keep the process alive while the worker owes us an answer, and only then. */
  private async busy<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busyCount++ === 0) this.worker?.ref();
    try {
      return await fn();
    } finally {
      if (--this.busyCount === 0) this.worker?.unref();
    }
  }

  private get(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(path.join(__dirname, 'ingest-worker.js'));
    w.on('message', (m: FromWorker) => this.handlers.get(m.id)?.(m));
    const fail = (err: Error) => {
      if (this.worker !== w) return;
      this.worker = null;
      this.epoch++;
      const pending = [...this.handlers.values()];
      this.handlers.clear();
      for (const h of pending) h({ t: 'ended', id: -1, error: `ingest worker failed: ${err.message}`, hashed: false });
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    if (this.busyCount === 0) w.unref(); // idle workers do not keep the process alive (see busy())
    this.worker = w;
    return w;
  }

  /**
   * Stream `body` into `file` at `offset`. `hash`: 'reset' starts a new running hash for
   * `key`, 'continue' extends it, 'none' drops it. Resolves once every byte is on disk;
   * rejects with the body's error (client gone) after what arrived has been written.
   */
  append(key: string, file: string, offset: number, body: Readable, hash: 'reset' | 'continue' | 'none'): Promise<AppendResult> {
    this.get();
    return this.busy(() => this.appendBusy(key, file, offset, body, hash));
  }

  private async appendBusy(key: string, file: string, offset: number, body: Readable, hash: 'reset' | 'continue' | 'none'): Promise<AppendResult> {
    const w = this.get();
    const id = this.nextId++;
    let inFlight = 0;
    let wake: (() => void) | null = null;
    let ended: ((m: Extract<FromWorker, { t: 'ended' }>) => void) | null = null;
    let workerError: string | null = null;
    this.handlers.set(id, (m) => {
      if (m.t === 'ack') {
        inFlight -= BATCH_BYTES;
        if (this.pool.length < POOL_MAX && m.buf.byteLength === BATCH_BYTES) this.pool.push(m.buf);
        const wk = wake;
        wake = null;
        wk?.();
      } else if (m.t === 'ended') {
        workerError = m.error;
        ended?.(m);
        const wk = wake;
        wake = null;
        wk?.();
      }
    });
    w.postMessage({ t: 'begin', id, key, file, offset, hash } satisfies ToWorker);
    let written = 0;
    // chunks are copied into pooled batch buffers, which are transferred (not copied) to
    // the worker and come back with its acknowledgement
    let cur: Buffer | null = null;
    let curLen = 0;
    const send = () => {
      if (!cur || curLen === 0) return;
      const ab = cur.buffer as ArrayBuffer;
      inFlight += BATCH_BYTES;
      w.postMessage({ t: 'data', id, buf: ab, len: curLen } satisfies ToWorker, [ab]);
      cur = null;
      curLen = 0;
    };
    const put = (chunk: Buffer) => {
      for (let off = 0; off < chunk.length; ) {
        if (!cur) cur = Buffer.from(this.pool.pop() ?? new ArrayBuffer(BATCH_BYTES));
        const n = chunk.copy(cur, curLen, off);
        curLen += n;
        off += n;
        if (curLen === BATCH_BYTES) send();
      }
    };
    let bodyError: unknown = null;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        put(chunk);
        written += chunk.length;
        while (inFlight >= MAX_IN_FLIGHT && workerError === null) await new Promise<void>((r) => (wake = r));
        if (workerError) break;
      }
      send();
    } catch (e) {
      bodyError = e;
      send(); // keep what arrived: the client can resume from there
    }
    const done = await new Promise<Extract<FromWorker, { t: 'ended' }>>((resolve) => {
      ended = resolve;
      w.postMessage({ t: 'end', id, clean: bodyError === null } satisfies ToWorker);
    });
    this.handlers.delete(id);
    if (done.error) throw new Error(`writing the upload failed: ${done.error}`);
    if (bodyError) throw bodyError;
    return { written, hashed: done.hashed };
  }

  /** The running sha256 of `key`, or null when the worker has none. */
  digest(key: string): Promise<string | null> {
    return this.ask((id) => ({ t: 'digest', id, key }));
  }

  /** Hash a whole file in the worker. */
  async hashFile(file: string, algorithm: string): Promise<string> {
    const hex = await this.ask((id) => ({ t: 'hashfile', id, file, algorithm }));
    if (hex === null) throw new Error(`could not hash ${file}`);
    return hex;
  }

  drop(key: string): void {
    this.worker?.postMessage({ t: 'drop', key } satisfies ToWorker);
  }

  private ask(msg: (id: number) => ToWorker): Promise<string | null> {
    const w = this.get();
    const id = this.nextId++;
    return this.busy(() => new Promise((resolve, reject) => {
      this.handlers.set(id, (m) => {
        this.handlers.delete(id);
        if (m.t === 'digest') resolve(m.hex);
        else reject(new Error(m.t === 'ended' && m.error ? m.error : 'ingest worker failed'));
      });
      w.postMessage(msg(id));
    }));
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
