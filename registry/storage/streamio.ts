// Streaming file I/O tuned for blob transfers: the network and the disk work at the same
// time, memory stays bounded, and no blob is ever held whole in memory.
//
// - appendStream: request body → file. Incoming chunks are hashed as they arrive and
//   gathered into batches; several batches are written concurrently at their own file
//   offsets (pwrite), so reading the socket never waits for one write to finish.
// - sendFileRange: file → response. On a plain TCP socket with the native module, the kernel
//   sends the file itself (./zerocopy, sendfile). Otherwise a few fixed buffers are reused in
//   rotation; a buffer is refilled only after the socket has taken its bytes, and the next
//   read runs while the previous chunk is being sent.
import fsp from 'node:fs/promises';
import type { Hash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { sendZeroCopy, zeroCopyFd } from './zerocopy';

// At most 8 MiB of a body waits for the disk; smaller batches keep the tail short (the
// writes still pending when the body ends, which a chunked upload waits for every PATCH).
const BATCH_BYTES = 2 * 1024 * 1024;
const WRITES_IN_FLIGHT = 4;
const SEND_CHUNK = 1024 * 1024;
const SEND_BUFFERS = 4;

/** Stream `body` into `file` at `offset`, feeding `hash`; returns the bytes written. */
export async function appendStream(file: string, offset: number, body: Readable, hash: Hash | null): Promise<number> {
  const fh = await fsp.open(file, 'r+');
  let position = offset;
  let written = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const inflight: Promise<void>[] = [];
  let failure: unknown = null;
  const flush = () => {
    if (batchBytes === 0) return;
    const expected = batchBytes;
    const p = fh.writev(batch, position).then(
      (r) => {
        if (r.bytesWritten !== expected) failure ??= new Error('short write');
      },
      (e: unknown) => {
        failure ??= e;
      },
    );
    position += batchBytes;
    batch = [];
    batchBytes = 0;
    inflight.push(p);
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash?.update(chunk);
      batch.push(chunk);
      batchBytes += chunk.length;
      written += chunk.length;
      if (batchBytes >= BATCH_BYTES) {
        flush();
        if (inflight.length >= WRITES_IN_FLIGHT) await inflight.shift();
        if (failure) throw failure;
      }
    }
    flush();
  } finally {
    // whatever happened, let the started writes land so the file holds a clean prefix
    await Promise.all(inflight);
    await fh.close();
  }
  if (failure) throw failure;
  return written;
}

/**
 * Send bytes [start, end] of `file` as the body of `res` (headers already set). Resolves when
 * everything was handed to the socket, or when the client went away.
 */
export async function sendFileRange(res: ServerResponse, file: string, start: number, end: number): Promise<void> {
  const fd = zeroCopyFd(res, end - start + 1);
  if (fd !== null) return sendZeroCopy(res, fd, file, start, end);
  const fh = await fsp.open(file, 'r');
  const free: Buffer[] = Array.from({ length: SEND_BUFFERS }, () => Buffer.allocUnsafe(SEND_CHUNK));
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  let closed = false;
  const onClose = () => {
    closed = true;
    notify();
  };
  res.once('close', onClose);
  try {
    let pos = start;
    while (pos <= end && !closed) {
      // a buffer is reused only after the socket has taken its previous bytes
      while (free.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
      if (closed) break;
      const buf = free.pop()!;
      const { bytesRead } = await fh.read(buf, 0, Math.min(SEND_CHUNK, end + 1 - pos), pos);
      if (bytesRead === 0) throw new Error('blob file is shorter than its recorded size');
      pos += bytesRead;
      const ok = res.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead), () => {
        free.push(buf);
        notify();
      });
      if (!ok && !closed) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    if (!closed) await new Promise<void>((resolve) => res.end(resolve));
  } finally {
    res.off('close', onClose);
    await fh.close();
  }
}
