// Small typed client helpers for the OCI Distribution conformance and crash tests:
// digests, random payloads, requests (fetch and raw node:http), uploads, manifests,
// error-body assertions, and a data-dir snapshot/walk for "nothing on disk" checks.
//
// Every response that goes through `req` or `rawRequest` is checked for
// `Docker-Distribution-API-Version: registry/2.0`; offenders are collected in
// `apiVersionViolations` so a test can assert on all of them at once.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startLanyard } from './lanyard';
import { startDaemon, waitForHttp, tempDir, freePort, requireTool } from './proc';
import type { Daemon } from './proc';

// ---------------------------------------------------------------- digests & data

export function sha256Hex(data: Buffer | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** `sha256:<hex>` of the given bytes. */
export function digestOf(data: Buffer | string): string {
  return `sha256:${sha256Hex(data)}`;
}

export function hexOf(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new Error(`not a sha256 digest: ${digest}`);
  return m[1];
}

export async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function randomBytes(n: number): Buffer {
  return crypto.randomBytes(n);
}

/** A digest of well-formed shape that (with overwhelming probability) names nothing. */
export function randomDigest(): string {
  return digestOf(crypto.randomBytes(32));
}

let nameCounter = 0;
/** A fresh, valid, unique repository name, e.g. `upl-3-k2j9x`. */
export function repoName(prefix = 'repo'): string {
  nameCounter += 1;
  return `${prefix}-${nameCounter}-${crypto.randomBytes(4).toString('hex')}`;
}

export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** What a real client (docker, containerd) sends as Accept when pulling manifests. */
export const ACCEPT_MANIFESTS = [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ');

// ---------------------------------------------------------------- target server

export interface Target {
  kind: 'lanyard' | 'registry2';
  url: string;
  dataDir: string;
  pid: number;
  exited: Promise<number | null>;
  output(): string;
  stop(graceMs?: number): Promise<void>;
  kill9(): Promise<void>;
}

/**
 * Start the server under test: Lanyard by default; Debian's registry:2 when
 * LANYARD_TEST_TARGET=registry2 (only to sanity-check the tests' own expectations).
 */
export async function startTarget(opts: { dataDir?: string; deleteEnabled?: boolean } = {}): Promise<Target> {
  if (process.env.LANYARD_TEST_TARGET === 'registry2') return startRegistry2(opts);
  const l = await startLanyard({ dataDir: opts.dataDir, deleteEnabled: opts.deleteEnabled });
  return wrapDaemon('lanyard', l.url, l.dataDir, l);
}

/**
 * registry:2 with a fixed http secret, so that its upload state tokens stay valid across a
 * restart (refregistry.ts lets it pick a random one per start).
 */
async function startRegistry2(opts: { dataDir?: string; deleteEnabled?: boolean }): Promise<Target> {
  const dataDir = opts.dataDir ?? tempDir('ref-data');
  const port = await freePort();
  const confDir = tempDir('ref-conf');
  const conf = path.join(confDir, 'config.yml');
  fs.writeFileSync(conf, [
    'version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true',
    'storage:', '  filesystem:', `    rootdirectory: ${dataDir}`, '  delete:', `    enabled: ${opts.deleteEnabled ? 'true' : 'false'}`,
    'http:', `  addr: 127.0.0.1:${port}`, '  secret: lanyard-conformance-tests', '',
  ].join('\n'));
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('REGISTRY_')) delete env[k];
  const d = startDaemon(requireTool('docker-registry'), ['serve', conf], { env });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`);
  fs.rmSync(confDir, { recursive: true, force: true }); // read once at start
  return wrapDaemon('registry2', url, dataDir, d);
}

function wrapDaemon(kind: Target['kind'], url: string, dataDir: string, d: Daemon): Target {
  return {
    kind, url, dataDir, pid: d.pid, exited: d.exited, output: d.output,
    stop: (g?: number) => d.stop(g), kill9: () => d.kill9(),
  };
}

// ---------------------------------------------------------------- requests

export const API_VERSION = 'registry/2.0';
export const apiVersionViolations: string[] = [];

function noteApiVersion(method: string, url: string, status: number, value: string | null | undefined): void {
  if (value !== API_VERSION) apiVersionViolations.push(`${method} ${url} -> ${status}: Docker-Distribution-API-Version=${JSON.stringify(value ?? null)}`);
}

/** Resolve a (possibly relative) Location against the server's base URL. */
export function abs(base: string, location: string): string {
  return new URL(location, base).toString();
}

/**
 * Re-point a Location at another server instance (same data dir, new port): keeps path and
 * query, swaps the origin. Needed only for registry:2, which returns absolute Locations.
 */
export function relocate(location: string, newBase: string): string {
  const u = new URL(location, newBase);
  return new URL(u.pathname + u.search, newBase).toString();
}

/**
 * fetch() plus the API-version bookkeeping. The body is read completely before returning
 * (so no connection is left busy by an unread body) and handed back in a fresh Response,
 * which can be read once by the caller.
 */
export async function req(url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  noteApiVersion(init.method ?? 'GET', url, res.status, res.headers.get('docker-distribution-api-version'));
  let buf: Buffer;
  try {
    buf = Buffer.from(await res.arrayBuffer());
  } catch (e) {
    throw new Error(`${init.method ?? 'GET'} ${url} -> ${res.status} (Content-Length ${res.headers.get('content-length')}): `
      + `the body could not be read (${(e as Error).message}); the server closed the connection early or sent fewer bytes than announced`);
  }
  const nullBody = [101, 103, 204, 205, 304].includes(res.status);
  return new Response(nullBody ? null : buf, { status: res.status, statusText: res.statusText, headers: res.headers });
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RawOptions {
  headers?: Record<string, string>;
  /** Buffer: sent with Content-Length (unless headers override it); iterable: chunked transfer encoding */
  body?: Buffer | string | AsyncIterable<Buffer> | Iterable<Buffer>;
  timeoutMs?: number;
  /**
   * Send the headers, then wait this long for an early final response before sending the
   * body (what a client using `Expect: 100-continue` does). A server that rejects on the
   * headers alone (413 on Content-Length) then answers before any body byte is in flight.
   */
  earlyResponseMs?: number;
}

/**
 * A request whose path is sent byte-for-byte as given (no URL normalisation, so `..`,
 * `//` and percent-escapes reach the server) and whose body can be streamed.
 * Like curl and Go's client, it reads while it writes and stops sending as soon as the
 * server has answered (e.g. 413 before the body was read), so an early answer is seen.
 */
export function rawRequest(base: string, method: string, rawPath: string, opts: RawOptions = {}): Promise<RawResponse> {
  const u = new URL(base);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const body = opts.body;
  const isBuf = typeof body === 'string' || Buffer.isBuffer(body);
  if (isBuf && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
    headers['Content-Length'] = String(Buffer.byteLength(body as Buffer | string));
  }
  return new Promise<RawResponse>((resolve, reject) => {
    let settled = false;
    let responded = false;
    const r = http.request({
      host: u.hostname, port: u.port, method, path: rawPath, headers, agent: false,
      timeout: opts.timeoutMs ?? 60_000,
    }, (res) => {
      responded = true;
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        noteApiVersion(method, `${base}${rawPath}`, res.statusCode ?? 0, res.headers['docker-distribution-api-version'] as string | undefined);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) });
        if (!r.writableFinished) r.destroy();
      });
    });
    r.on('timeout', () => r.destroy(new Error(`timeout: ${method} ${rawPath}`)));
    r.on('error', (e) => { setTimeout(() => { if (!settled) { settled = true; reject(e); } }, 200); });
    if (body === undefined) { r.end(); return; }
    function* slices(b: Buffer): Iterable<Buffer> {
      for (let o = 0; o < b.length; o += 64 * 1024) yield b.subarray(o, o + 64 * 1024);
    }
    const source = isBuf ? slices(Buffer.from(body as Buffer | string)) : body as AsyncIterable<Buffer> | Iterable<Buffer>;
    (async () => {
      if (opts.earlyResponseMs) {
        r.flushHeaders();
        for (let waited = 0; waited < opts.earlyResponseMs && !responded; waited += 10) await new Promise((ok) => setTimeout(ok, 10));
      }
      for await (const chunk of source) {
        if (responded || r.destroyed) return;
        if (!r.write(chunk)) {
          await new Promise<void>((ok) => {
            const done = () => { r.off('drain', done); r.off('close', done); ok(); };
            r.on('drain', done);
            r.on('close', done);
          });
        }
        await new Promise<void>((ok) => setImmediate(ok)); // let an early response be read
      }
      if (!responded && !r.destroyed) r.end();
    })().catch((e) => r.destroy(e as Error));
  });
}

// ---------------------------------------------------------------- assertions

export type AnyResponse = Response | RawResponse;

function isFetchResponse(res: AnyResponse): res is Response {
  return typeof (res as Response).headers?.get === 'function';
}

export function header(res: AnyResponse, name: string): string | null {
  if (isFetchResponse(res)) return res.headers.get(name);
  const v = res.headers[name.toLowerCase()];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : String(v);
}

export async function bodyOf(res: AnyResponse): Promise<Buffer> {
  if (isFetchResponse(res)) return Buffer.from(await res.arrayBuffer());
  return res.body;
}

export interface OciError { code: string; message: string; detail?: unknown }

/**
 * Assert an OCI error response: the status, the API version header, a JSON body
 * `{"errors":[{code,message,detail?}]}` with `code` among the errors. Returns the errors.
 * For HEAD requests (no body) pass `{ head: true }`: only the status is checked.
 */
export async function assertOciError(res: AnyResponse, status: number, code: string, opts: { head?: boolean; what?: string } = {}): Promise<OciError[]> {
  const buf = await bodyOf(res);
  const text = buf.toString('utf8');
  const what = opts.what ? `${opts.what}: ` : '';
  assert.equal(res.status, status, `${what}expected HTTP ${status} ${code}, got ${res.status} ${text.slice(0, 300)}`);
  assert.equal(header(res, 'docker-distribution-api-version'), API_VERSION, `${what}missing API version header on error`);
  if (opts.head) return [];
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch { assert.fail(`${what}error body is not JSON: ${JSON.stringify(text.slice(0, 300))}`); }
  const ct = header(res, 'content-type') ?? '';
  assert.match(ct, /json/, `${what}error Content-Type should be JSON, got ${ct}`);
  const errors = (parsed as { errors?: unknown }).errors;
  assert.ok(Array.isArray(errors) && errors.length > 0, `${what}error body has no "errors" array: ${text.slice(0, 300)}`);
  for (const e of errors as OciError[]) {
    assert.equal(typeof e.code, 'string', `${what}error without string code: ${text.slice(0, 300)}`);
    assert.equal(typeof e.message, 'string', `${what}error without string message: ${text.slice(0, 300)}`);
  }
  assert.ok((errors as OciError[]).some((e) => e.code === code), `${what}expected code ${code}, got ${text.slice(0, 300)}`);
  return errors as OciError[];
}

/** Assert a status, printing the body on mismatch. Consumes nothing (clones fetch responses). */
export async function assertStatus(res: AnyResponse, status: number, what = ''): Promise<void> {
  if (res.status === status) return;
  const text = isFetchResponse(res) ? await res.clone().text() : res.body.toString('utf8');
  assert.fail(`${what ? what + ': ' : ''}expected HTTP ${status}, got ${res.status} ${text.slice(0, 400)}`);
}

/** Parse a `Range: 0-<last>` upload header into the byte count it stands for. */
export function rangeSize(res: AnyResponse): number {
  const r = header(res, 'range');
  assert.ok(r, 'missing Range header');
  const m = /^(?:bytes=)?0-(\d+)$/.exec(r);
  assert.ok(m, `malformed Range header: ${r}`);
  const last = Number(m[1]);
  // Per the spec `0-0` is what an empty upload reports; it is ambiguous with a 1-byte upload,
  // which this suite never creates.
  return last === 0 ? 0 : last + 1;
}

/** The Range header an upload of `size` bytes must report (`0-0` when empty). */
export function expectedRange(size: number): string {
  return size === 0 ? '0-0' : `0-${size - 1}`;
}

// ---------------------------------------------------------------- uploads

export interface Upload { location: string; uuid: string | null; res: Response }

/** POST /v2/<repo>/blobs/uploads/ → 202; returns the absolute Location. */
export async function startUpload(base: string, repo: string): Promise<Upload> {
  const res = await req(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await assertStatus(res, 202, `POST /v2/${repo}/blobs/uploads/`);
  const loc = res.headers.get('location');
  assert.ok(loc, 'upload POST without Location');
  await res.arrayBuffer();
  return { location: abs(base, loc), uuid: res.headers.get('docker-upload-uuid'), res };
}

/** PATCH one chunk; with `start` a `Content-Range: start-end` header is sent. */
export async function patchChunk(location: string, data: Buffer, start?: number): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  if (start !== undefined) headers['Content-Range'] = `${start}-${start + data.length - 1}`;
  return req(location, { method: 'PATCH', headers, body: data });
}

/** PUT <location>?digest=D (keeping any query the server put in the Location), optional final chunk. */
export async function putUpload(location: string, digest: string | null, finalChunk?: Buffer): Promise<Response> {
  const u = new URL(location);
  if (digest !== null) u.searchParams.set('digest', digest);
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  return req(u.toString(), { method: 'PUT', headers, body: finalChunk ?? Buffer.alloc(0) });
}

export type PushMode = 'monolithic' | 'post-put' | 'chunked';

/**
 * Push a blob and assert success; returns its digest.
 * monolithic: POST ?digest= with body; post-put: POST then PUT with body;
 * chunked: POST, PATCH chunks with Content-Range, PUT ?digest= without body.
 */
export async function pushBlob(base: string, repo: string, data: Buffer, opts: { mode?: PushMode; chunkSize?: number } = {}): Promise<string> {
  const digest = digestOf(data);
  const mode = opts.mode ?? 'post-put';
  if (mode === 'monolithic') {
    const res = await req(`${base}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: data,
    });
    await assertStatus(res, 201, `monolithic POST of ${digest}`);
    await res.arrayBuffer();
    return digest;
  }
  let { location } = await startUpload(base, repo);
  if (mode === 'chunked') {
    const cs = opts.chunkSize ?? 1 << 20;
    for (let off = 0; off < data.length; off += cs) {
      const chunk = data.subarray(off, Math.min(off + cs, data.length));
      const res = await patchChunk(location, chunk, off);
      await assertStatus(res, 202, `PATCH ${off}`);
      assert.equal(res.headers.get('range'), expectedRange(off + chunk.length));
      location = abs(location, res.headers.get('location') ?? location);
    }
    const res = await putUpload(location, digest);
    await assertStatus(res, 201, `PUT ?digest=${digest}`);
    await res.arrayBuffer();
    return digest;
  }
  const res = await putUpload(location, digest, data);
  await assertStatus(res, 201, `PUT ?digest=${digest}`);
  await res.arrayBuffer();
  return digest;
}

// ---------------------------------------------------------------- manifests

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export function descriptor(mediaType: string, data: Buffer | string, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: digestOf(data), size: Buffer.byteLength(data), ...extra };
}

export interface PushedManifest { res: Response; digest: string; body: Buffer; mediaType: string }

/** PUT a manifest (object → JSON bytes; Buffer/string sent as is). Does not assert the status. */
export async function putManifest(base: string, repo: string, ref: string, manifest: object | Buffer | string, mediaType?: string): Promise<PushedManifest> {
  const body = Buffer.isBuffer(manifest) ? manifest : Buffer.from(typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  const mt = mediaType ?? (manifest as { mediaType?: string }).mediaType;
  assert.ok(mt, 'putManifest needs a media type');
  const res = await req(`${base}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { 'Content-Type': mt }, body });
  return { res, digest: digestOf(body), body, mediaType: mt };
}

/** PUT a manifest and assert 201 + Docker-Content-Digest. */
export async function pushManifest(base: string, repo: string, ref: string, manifest: object | Buffer | string, mediaType?: string): Promise<PushedManifest> {
  const p = await putManifest(base, repo, ref, manifest, mediaType);
  await assertStatus(p.res, 201, `PUT /v2/${repo}/manifests/${ref}`);
  assert.equal(p.res.headers.get('docker-content-digest'), p.digest, 'manifest PUT Docker-Content-Digest');
  await p.res.arrayBuffer();
  return p;
}

export async function getManifest(base: string, repo: string, ref: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Response> {
  return req(`${base}/v2/${repo}/manifests/${ref}`, { method, headers: { Accept: ACCEPT_MANIFESTS } });
}

export interface Image {
  manifest: Record<string, unknown>;
  body: Buffer;
  digest: string;
  mediaType: string;
  config: Buffer;
  layers: Buffer[];
}

/**
 * Push config + layers (monolithic) and then an image manifest (OCI by default, or Docker
 * schema2) under `ref` (tag or digest; '' means "by its own digest").
 */
export async function pushImage(base: string, repo: string, ref: string, opts: {
  docker?: boolean; layers?: number; layerSize?: number; annotations?: Record<string, string>;
  subject?: Descriptor; artifactType?: string; indent?: number;
} = {}): Promise<Image> {
  const docker = opts.docker ?? false;
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: crypto.randomBytes(8).toString('hex'),
  }));
  const layers: Buffer[] = [];
  for (let i = 0; i < (opts.layers ?? 1); i++) layers.push(randomBytes(opts.layerSize ?? 1024));
  await pushBlob(base, repo, config, { mode: 'post-put' });
  for (const l of layers) await pushBlob(base, repo, l, { mode: 'post-put' });
  const mediaType = docker ? MT.dockerManifest : MT.ociManifest;
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    config: descriptor(docker ? MT.dockerConfig : MT.ociConfig, config),
    layers: layers.map((l) => descriptor(docker ? MT.dockerLayer : MT.ociLayer, l)),
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const body = Buffer.from(JSON.stringify(manifest, null, opts.indent ?? 3) + '\n');
  const digest = digestOf(body);
  await pushManifest(base, repo, ref || digest, body, mediaType);
  return { manifest, body, digest, mediaType, config, layers };
}

// ---------------------------------------------------------------- disk

/** Every path (relative, with a trailing / for directories) under `dir`, sorted. */
export function snapshotTree(dir: string): string[] {
  const out: string[] = [];
  (function walk(d: string, rel: string) {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) { out.push(r + '/'); walk(path.join(d, e.name), r); } else out.push(r);
    }
  })(dir, '');
  return out.sort();
}

export interface BlobFile { hex: string; file: string; size: number }

/**
 * Walk `<dataDir>/docker/registry/v2/blobs`: every `sha256/<xx>/<hex>/data` file.
 * `stray` lists other regular files found under blobs/sha256 (not necessarily wrong).
 */
export function listBlobFiles(dataDir: string): { blobs: BlobFile[]; stray: string[] } {
  const root = path.join(dataDir, 'docker', 'registry', 'v2', 'blobs');
  const blobs: BlobFile[] = [];
  const stray: string[] = [];
  for (const rel of snapshotTree(root)) {
    if (rel.endsWith('/')) continue;
    const m = /^sha256\/([a-f0-9]{2})\/([a-f0-9]{64})\/data$/.exec(rel);
    if (m && m[2].startsWith(m[1])) {
      const file = path.join(root, rel);
      blobs.push({ hex: m[2], file, size: fs.statSync(file).size });
    } else stray.push(rel);
  }
  return { blobs, stray };
}

/** Assert every committed blob file's content hashes to its name. Returns the hexes seen. */
export async function assertBlobStoreIntact(dataDir: string): Promise<Set<string>> {
  const { blobs } = listBlobFiles(dataDir);
  const bad: string[] = [];
  for (const b of blobs) {
    const got = await sha256File(b.file);
    if (got !== b.hex) bad.push(`${b.file}: size ${b.size}, sha256 ${got}`);
  }
  assert.deepEqual(bad, [], `blob files whose content does not match their digest:\n${bad.join('\n')}`);
  return new Set(blobs.map((b) => b.hex));
}
