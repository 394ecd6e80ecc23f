// Build small test images without any pull or docker: an OCI image layout directory
// (oci-layout, index.json, blobs/sha256/...) whose layers are gzip'd tars of random files,
// plus the same image as an OCI archive or a `docker save` tarball for `podman load` /
// `ctr images import`. Everything is streamed (random data → files → system tar → zlib →
// disk); no large buffers are built.
import { spawn, SpawnOptions } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { requireTool, tempDir } from './proc';

export const MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MT_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MT_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MT_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MT_DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface LayerInfo extends Descriptor {
  /** sha256 of the uncompressed tar (what the config's rootfs.diff_ids lists) */
  diffId: string;
}

export interface OciImage {
  /** the OCI image layout directory */
  dir: string;
  /** the org.opencontainers.image.ref.name the manifest is listed under in index.json */
  tag: string;
  manifestDigest: string;
  manifestSize: number;
  /** exact manifest bytes as stored in the layout (what a client pushes unchanged) */
  manifestBytes: Buffer;
  configDigest: string;
  configSize: number;
  configBytes: Buffer;
  layers: LayerInfo[];
}

export interface OciImageOptions {
  /** target directory (created); default: a new temp dir */
  dir?: string;
  /** ref name in index.json, default "latest" */
  tag?: string;
  /** number of layers, default 2 */
  layers?: number;
  /** random files per layer, default 2 */
  filesPerLayer?: number;
  /** bytes per random file, default 256 KiB */
  fileSize?: number;
  /** extra config labels (also makes otherwise identical images distinct) */
  labels?: Record<string, string>;
}

export function sha256Hex(data: Buffer | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export function digestOf(data: Buffer | string): string {
  return `sha256:${sha256Hex(data)}`;
}

/** Path of a blob inside an OCI image layout. */
export function blobPath(layoutDir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return path.join(layoutDir, 'blobs', alg, hex);
}

/** Stream a file through sha256; returns "sha256:<hex>". */
export async function fileDigest(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), async function* (src: AsyncIterable<Buffer>) {
    for await (const chunk of src) h.update(chunk);
  });
  return `sha256:${h.digest('hex')}`;
}

/** A pass-through stream that hashes and counts what flows through it. */
class HashTap extends Transform {
  readonly hash = crypto.createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/** `size` random bytes as a stream of 64 KiB chunks. */
function randomStream(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) { this.push(null); return; }
      const n = Math.min(left, 64 * 1024);
      left -= n;
      this.push(crypto.randomBytes(n));
    },
  });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions extends SpawnOptions {
  /** kill the process (SIGKILL) after this many ms; default 120 s */
  timeoutMs?: number;
}

/**
 * Run a command to completion without blocking the event loop (daemons started by the
 * test keep their output pipes drained). Never throws on a non-zero exit; see runOk.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const { timeoutMs = 120_000, ...spawnOpts } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => { if (stdout.length < 4_000_000) stdout += b.toString(); });
    child.stderr?.on('data', (b: Buffer) => { if (stderr.length < 4_000_000) stderr += b.toString(); });
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** Run a command; throw with its output when it does not exit 0. Returns stdout. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout.slice(-8000)}\n--- stderr\n${r.stderr.slice(-8000)}`);
  }
  return r.stdout;
}

/** Deterministic tar flags (names sorted, owner root, mtime 0). */
const TAR_FLAGS = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=gnu'];

/**
 * Write one layer: random files into a staging dir, `tar` them, hash the tar stream
 * (diff_id), gzip it, hash the gzip stream (digest) and store it as a blob.
 */
async function writeLayer(layoutDir: string, index: number, files: number, fileSize: number): Promise<LayerInfo> {
  const stage = tempDir('oci-layer-stage');
  try {
    const sub = path.join(stage, `layer${index}`);
    fs.mkdirSync(sub, { recursive: true, mode: 0o755 });
    fs.chmodSync(sub, 0o755);
    for (let i = 0; i < files; i++) {
      await pipeline(randomStream(fileSize), fs.createWriteStream(path.join(sub, `file${i}.bin`)));
    }
    fs.writeFileSync(path.join(sub, 'README'), `layer ${index}: ${files} random files of ${fileSize} bytes\n`);

    const tarBin = requireTool('tar');
    const tar = spawn(tarBin, ['-c', ...TAR_FLAGS, '-f', '-', '-C', stage, `layer${index}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tarErr = '';
    tar.stderr.on('data', (b: Buffer) => { tarErr += b.toString(); });
    const tarExit = new Promise<number | null>((resolve) => tar.once('close', resolve));
    const raw = new HashTap();
    const gz = new HashTap();
    const tmp = path.join(layoutDir, 'blobs', 'sha256', `.tmp-layer-${index}-${process.pid}`);
    await pipeline(tar.stdout, raw, zlib.createGzip({ level: 6 }), gz, fs.createWriteStream(tmp));
    const code = await tarExit;
    if (code !== 0) throw new Error(`tar exited ${code}: ${tarErr}`);
    const digest = `sha256:${gz.hash.digest('hex')}`;
    fs.renameSync(tmp, blobPath(layoutDir, digest));
    return { mediaType: MT_OCI_LAYER_GZIP, digest, size: gz.bytes, diffId: `sha256:${raw.hash.digest('hex')}` };
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

function writeBlob(layoutDir: string, data: Buffer): string {
  const digest = digestOf(data);
  fs.writeFileSync(blobPath(layoutDir, digest), data);
  return digest;
}

/** Create an OCI image layout holding one single-platform (linux/amd64) image. */
export async function writeOciLayout(opts: OciImageOptions = {}): Promise<OciImage> {
  const dir = opts.dir ?? tempDir('oci-layout');
  const tag = opts.tag ?? 'latest';
  const nLayers = opts.layers ?? 2;
  const files = opts.filesPerLayer ?? 2;
  const fileSize = opts.fileSize ?? 256 * 1024;
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  const layers: LayerInfo[] = [];
  for (let i = 0; i < nLayers; i++) layers.push(await writeLayer(dir, i, files, fileSize));

  const created = '2024-01-01T00:00:00Z';
  const config = {
    created,
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['/bin/sh'],
      Labels: { 'org.lanyard.test': crypto.randomUUID(), ...(opts.labels ?? {}) },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created, created_by: `lanyard test layer ${i}` })),
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = writeBlob(dir, configBytes);

  const manifest = {
    schemaVersion: 2,
    mediaType: MT_OCI_MANIFEST,
    config: { mediaType: MT_OCI_CONFIG, digest: configDigest, size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const manifestDigest = writeBlob(dir, manifestBytes);

  const index = {
    schemaVersion: 2,
    mediaType: MT_OCI_INDEX,
    manifests: [{
      mediaType: MT_OCI_MANIFEST,
      digest: manifestDigest,
      size: manifestBytes.length,
      platform: { architecture: 'amd64', os: 'linux' },
      annotations: { 'org.opencontainers.image.ref.name': tag },
    }],
  };
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index, null, 2));
  return {
    dir, tag, manifestDigest, manifestSize: manifestBytes.length, manifestBytes,
    configDigest, configSize: configBytes.length, configBytes, layers,
  };
}

/**
 * The layout as an OCI archive (a tar of the layout directory). `imageName` adds an
 * `io.containerd.image.name` annotation so `ctr images import` names the image; the
 * manifest (and so the image digest) is unchanged.
 */
export async function writeOciArchive(img: OciImage, outFile: string, imageName?: string): Promise<void> {
  const extra = tempDir('oci-archive-stage');
  try {
    const index = JSON.parse(fs.readFileSync(path.join(img.dir, 'index.json'), 'utf8'));
    if (imageName) {
      for (const m of index.manifests) m.annotations = { ...m.annotations, 'io.containerd.image.name': imageName };
    }
    fs.writeFileSync(path.join(extra, 'index.json'), JSON.stringify(index));
    await runOk(requireTool('tar'), ['-c', ...TAR_FLAGS, '-f', outFile,
      '-C', img.dir, 'oci-layout', 'blobs', '-C', extra, 'index.json']);
  } finally {
    fs.rmSync(extra, { recursive: true, force: true });
  }
}

/**
 * The image as a `docker save` tarball: manifest.json, <config hex>.json and one
 * <diff_id hex>/layer.tar (uncompressed, gunzipped from the layout's blobs) per layer.
 */
export async function writeDockerArchive(img: OciImage, outFile: string, repoTags: string[]): Promise<void> {
  const stage = tempDir('docker-archive-stage');
  try {
    const configName = `${img.configDigest.split(':')[1]}.json`;
    fs.writeFileSync(path.join(stage, configName), img.configBytes);
    const layerNames: string[] = [];
    for (const l of img.layers) {
      const name = `${l.diffId.split(':')[1]}/layer.tar`;
      fs.mkdirSync(path.join(stage, path.dirname(name)), { recursive: true });
      await pipeline(fs.createReadStream(blobPath(img.dir, l.digest)), zlib.createGunzip(), fs.createWriteStream(path.join(stage, name)));
      layerNames.push(name);
    }
    fs.writeFileSync(path.join(stage, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: repoTags, Layers: layerNames }]));
    const repos: Record<string, Record<string, string>> = {};
    const top = img.layers.length ? img.layers[img.layers.length - 1].diffId.split(':')[1] : '';
    for (const rt of repoTags) {
      const i = rt.lastIndexOf(':');
      (repos[rt.slice(0, i)] ??= {})[rt.slice(i + 1)] = top;
    }
    fs.writeFileSync(path.join(stage, 'repositories'), JSON.stringify(repos));
    await runOk(requireTool('tar'), ['-c', ...TAR_FLAGS, '-f', outFile, '-C', stage, '.']);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}
