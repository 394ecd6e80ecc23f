// Minimal HTTP/1.1 client pieces for the benchmark: small buffered requests, streamed
// uploads from a file, and a discarding download. Loopback only.
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';

export interface SmallResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface Timed {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** milliseconds from the start of the request to the end of the response */
  ms: number;
}

/** A buffered request with an optional small body. */
export function request(
  url: string | URL,
  method: string,
  headers: http.OutgoingHttpHeaders = {},
  body?: Buffer,
  agent?: http.Agent,
): Promise<SmallResponse> {
  return new Promise((resolve, reject) => {
    const h: http.OutgoingHttpHeaders = { ...headers };
    if (body) h['content-length'] = body.length;
    else if (method === 'PUT' || method === 'POST' || method === 'PATCH') h['content-length'] = 0;
    const req = http.request(url, { method, headers: h, agent: agent ?? false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

const SEND_BUFFER = 1 << 20;
const SEND_BUFFERS = 4;

/**
 * Send bytes [start, end] (inclusive) of `file` as the request body. The client reads the
 * file into a few reused 1 MiB buffers and hands each to the socket; a buffer is refilled
 * only after the socket has taken it. No memory is allocated per chunk, so the client's own
 * cost (page faults, GC) stays small and the same for every server; it runs on the same
 * 2 cores as the server. The clock starts just before the request is created and stops when
 * the response has been read completely.
 */
export function streamUpload(
  url: string | URL,
  method: string,
  headers: http.OutgoingHttpHeaders,
  file: string,
  start: number,
  end: number,
  agent?: http.Agent,
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const length = end - start + 1;
    const t0 = performance.now();
    let gotResponse = false;
    let fd: number | null = fs.openSync(file, 'r');
    const closeFile = () => {
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    };
    const req = http.request(url, {
      method,
      headers: { ...headers, 'content-length': length },
      agent: agent ?? false,
    }, (res) => {
      gotResponse = true;
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => {
        closeFile();
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(parts).toString('utf8').slice(0, 2000),
          ms: performance.now() - t0,
        });
      });
      res.on('error', reject);
    });
    req.setTimeout(300_000, () => req.destroy(new Error(`${method} ${url}: timed out`)));
    // A server that answers early (an error before the body is complete) may reset the
    // connection while we are still writing: keep the answer, ignore the write error.
    req.on('error', (e) => {
      if (!gotResponse) {
        closeFile();
        reject(e);
      }
    });
    const free = Array.from({ length: SEND_BUFFERS }, () => Buffer.allocUnsafe(SEND_BUFFER));
    let pos = start;
    let ended = false;
    const pump = (): void => {
      while (pos <= end && free.length > 0 && fd !== null && !req.destroyed) {
        const buf = free.pop()!;
        let n: number;
        try {
          n = fs.readSync(fd, buf, 0, Math.min(buf.length, end + 1 - pos), pos);
        } catch (e) {
          req.destroy(e as Error);
          return;
        }
        if (n === 0) {
          req.destroy(new Error(`${file} is shorter than ${end + 1} bytes`));
          return;
        }
        pos += n;
        const more = req.write(n === buf.length ? buf : buf.subarray(0, n), () => {
          free.push(buf);
          pump();
        });
        if (!more) return; // the write callback resumes once the socket has taken the bytes
      }
      if (pos > end && !ended) {
        ended = true;
        req.end();
      }
    };
    pump();
  });
}

export interface Download {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  digest?: string;
  ms: number;
}

/** GET `url`, count (and optionally hash) the body, throw the bytes away. */
export function download(url: string | URL, headers: http.OutgoingHttpHeaders = {}, hash = false): Promise<Download> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, { method: 'GET', headers, agent: false }, (res) => {
      let bytes = 0;
      const h = hash ? crypto.createHash('sha256') : null;
      res.on('data', (b: Buffer) => { bytes += b.length; h?.update(b); });
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        bytes,
        digest: h ? `sha256:${h.digest('hex')}` : undefined,
        ms: performance.now() - t0,
      }));
      res.on('error', reject);
    });
    req.setTimeout(300_000, () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export function header(h: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
