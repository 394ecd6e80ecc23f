// The ingest worker thread: hashes and writes upload data off the main thread, so the
// main thread only moves bytes from sockets. One message stream per request; running
// hashes live here, keyed by upload, across the requests of a chunked upload.
import { parentPort } from 'node:worker_threads';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ToWorker, FromWorker } from './ingest';

interface Stream {
  fd: number;
  pos: number;
  key: string;
  failed: string | null;
}

const hashes = new Map<string, crypto.Hash>();
const streams = new Map<number, Stream>();
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

function writeAll(fd: number, buf: Buffer, pos: number): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off, pos + off);
    if (n <= 0) throw new Error('write returned 0');
    off += n;
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'begin': {
      let fd = -1;
      let failed: string | null = null;
      try {
        fd = fs.openSync(m.file, 'r+');
      } catch (e) {
        failed = (e as Error).message;
      }
      if (m.hash === 'reset') hashes.set(m.key, crypto.createHash('sha256'));
      else if (m.hash === 'none') hashes.delete(m.key);
      streams.set(m.id, { fd, pos: m.offset, key: m.key, failed });
      return;
    }
    case 'data': {
      const s = streams.get(m.id);
      const ack = (n: number) => port.postMessage({ t: 'ack', id: m.id, n, buf: m.buf } satisfies FromWorker, [m.buf]);
      if (!s || s.failed) return ack(0);
      const buf = Buffer.from(m.buf, 0, m.len);
      try {
        hashes.get(s.key)?.update(buf);
        writeAll(s.fd, buf, s.pos);
        s.pos += buf.length;
        ack(buf.length);
      } catch (e) {
        s.failed = (e as Error).message;
        hashes.delete(s.key); // the hash no longer matches the file
        ack(0);
      }
      return;
    }
    case 'end': {
      const s = streams.get(m.id);
      streams.delete(m.id);
      if (s && s.fd >= 0) fs.closeSync(s.fd);
      if (s && !m.clean) hashes.delete(s.key);
      post({ t: 'ended', id: m.id, error: s?.failed ?? null, hashed: !!s && hashes.has(s.key) });
      return;
    }
    case 'digest': {
      const h = hashes.get(m.key);
      post({ t: 'digest', id: m.id, hex: h ? h.copy().digest('hex') : null });
      return;
    }
    case 'hashfile': {
      try {
        const h = crypto.createHash(m.algorithm);
        const fd = fs.openSync(m.file, 'r');
        const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
        try {
          for (let pos = 0; ; ) {
            const n = fs.readSync(fd, buf, 0, buf.length, pos);
            if (n === 0) break;
            h.update(n === buf.length ? buf : buf.subarray(0, n));
            pos += n;
          }
        } finally {
          fs.closeSync(fd);
        }
        post({ t: 'digest', id: m.id, hex: h.digest('hex') });
      } catch (e) {
        post({ t: 'digest', id: m.id, hex: null, error: (e as Error).message });
      }
      return;
    }
    case 'drop':
      hashes.delete(m.key);
      return;
  }
});
