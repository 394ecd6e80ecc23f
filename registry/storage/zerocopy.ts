// Zero-copy blob downloads: the kernel moves file pages straight into the socket (sendfile),
// instead of reading them into a buffer and writing that buffer back out. Uses the optional
// native module built from registry/native/lanyard_native.c (Linux). Whenever it does not
// apply (no module, another OS, TLS, small bodies, LANYARD_SENDFILE=0) the caller keeps its
// buffered path, which sends exactly the same bytes.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type Done = (err: NodeJS.ErrnoException | null, sent: number) => void;

interface NativeModule {
  send(socketFd: number, fileFd: number, offset: number, length: number, done: Done): unknown;
  cancel(handle: unknown): void;
}

/** Bodies smaller than this go through the buffered path: one read and one write is cheaper. */
export const ZERO_COPY_MIN_BYTES = 1024 * 1024;

/** Where `npm run build` puts the module (dist/native), seen from dist/registry/storage. */
export const NATIVE_MODULE_PATH = path.join(__dirname, '..', '..', 'native', 'lanyard_native.node');

let native: NativeModule | null | undefined;
let loadError: string | null = null;

function load(): NativeModule | null {
  if (native !== undefined) return native;
  native = null;
  if (process.platform !== 'linux') {
    loadError = 'not Linux';
  } else if (process.env.LANYARD_SENDFILE === '0') {
    loadError = 'turned off by LANYARD_SENDFILE=0';
  } else {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const m = require(NATIVE_MODULE_PATH) as Partial<NativeModule>;
      if (typeof m.send === 'function' && typeof m.cancel === 'function') native = m as NativeModule;
      else loadError = 'the native module has no sendfile';
    } catch (e) {
      loadError = `native module not loaded: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return native;
}

/** How downloads are sent, for the start-up line and the tests. */
export function zeroCopyStatus(): { enabled: boolean; reason: string } {
  return load() ? { enabled: true, reason: 'sendfile' } : { enabled: false, reason: loadError ?? 'unavailable' };
}

/** The socket's file descriptor when `res` may be sent with sendfile, else null. */
export function zeroCopyFd(res: ServerResponse, length: number): number | null {
  if (length < ZERO_COPY_MIN_BYTES || !load()) return null;
  const socket = res.socket as (Socket & { encrypted?: boolean; _handle?: { fd?: number } }) | null;
  if (!socket || socket.encrypted || socket.destroyed) return null; // TLS needs the bytes in user space
  const fd = socket._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

const EMPTY = Buffer.alloc(0);

/**
 * Send bytes [start, end] of `file` as the body of `res` (headers set, not sent) with
 * sendfile on socket `fd`. Resolves when all bytes are in the socket, or when the client
 * went away; rejects when the file cannot be opened (before anything is sent) or is
 * shorter than expected (after the headers: the caller cuts the connection).
 */
export async function sendZeroCopy(res: ServerResponse, fd: number, file: string, start: number, end: number): Promise<void> {
  const mod = load()!;
  const socket = res.socket!;
  const fh = await fsp.open(file, 'r');
  try {
    res.flushHeaders();
    // everything Node has queued for this socket (the headers) must be in the kernel before
    // the transfer writes behind its back
    await new Promise<void>((resolve, reject) => socket.write(EMPTY, (e) => (e ? reject(e) : resolve())));
    if (res.destroyed || socket.destroyed) return;
    await new Promise<void>((resolve, reject) => {
      const onClose = () => mod.cancel(handle);
      const handle = mod.send(fd, fh.fd, start, end - start + 1, (err) => {
        res.off('close', onClose);
        if (!err || err.code === 'ECANCELED') resolve();
        else if (err.code === 'EPIPE' || err.code === 'ECONNRESET') {
          socket.destroy(); // the client went away; make sure Node lets go of the socket too
          resolve();
        } else reject(err);
      });
      res.once('close', onClose);
    });
  } finally {
    await fh.close();
  }
  if (!res.destroyed) await new Promise<void>((resolve) => res.end(resolve));
}
