// Blob downloads: file → response through a few fixed buffers reused in rotation. A buffer
// is refilled only after the socket has taken its bytes, the next read runs while the
// previous chunk is being sent, and no blob is ever held whole in memory. (Uploads go
// through ./ingest.)
import fsp from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

const SEND_CHUNK = 1024 * 1024;
const SEND_BUFFERS = 4;

/**
 * Send bytes [start, end] of `file` as the body of `res` (headers already set). Resolves when
 * everything was handed to the socket, or when the client went away.
 */
export async function sendFileRange(res: ServerResponse, file: string, start: number, end: number): Promise<void> {
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
