// Build test images without pulling anything: `FROM scratch` plus one `COPY` per layer of a
// freshly generated file of crypto-random (incompressible) bytes. Every call gives a new,
// unique image, so a push always has to upload every layer.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tempDir } from './proc';
import type { Dockerd } from './dockerd';

export const MiB = 1024 * 1024;

/** Write `size` random bytes to `file`, 1 MiB at a time (never one big buffer). */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const chunk = MiB;
  let left = size;
  const source = new Readable({
    read() {
      if (left <= 0) { this.push(null); return; }
      const n = Math.min(chunk, left);
      left -= n;
      this.push(crypto.randomBytes(n));
    },
  });
  await pipeline(source, fs.createWriteStream(file));
  const st = fs.statSync(file);
  if (st.size !== size) throw new Error(`${file}: wrote ${st.size} bytes, expected ${size}`);
}

export interface BuildOptions {
  /** tag(s) to give the image (`-t`) */
  tags?: string[];
  /** a label, makes the config (and so the image ID) unique even for empty layers */
  label?: string;
}

export interface BuiltImage {
  /** image ID, `sha256:<hex>` (the digest of the image config) */
  id: string;
  /** sizes of the generated files, one per layer, in order */
  layerSizes: number[];
}

/**
 * Build an image with one layer per entry of `layerSizes` (bytes of random data in that layer)
 * and return its image ID. The build context is a temp dir, removed afterwards.
 */
export async function buildImage(d: Dockerd, layerSizes: number[], opts: BuildOptions = {}): Promise<BuiltImage> {
  if (layerSizes.length === 0) throw new Error('buildImage: at least one layer');
  const ctx = tempDir('lanyard-img');
  try {
    const lines = ['FROM scratch'];
    for (let i = 0; i < layerSizes.length; i++) {
      const name = `layer${i}.bin`;
      await writeRandomFile(path.join(ctx, name), layerSizes[i]);
      lines.push(`COPY ${name} /data/${name}`);
    }
    lines.push(`LABEL org.lanyard.test=${JSON.stringify(opts.label ?? crypto.randomUUID())}`);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), lines.join('\n') + '\n');
    const iidFile = path.join(ctx, 'iid');
    const args = ['build', '--iidfile', iidFile, '--network', 'none', '--rm', '--force-rm'];
    for (const t of opts.tags ?? []) args.push('-t', t);
    args.push(ctx);
    // the legacy builder (DOCKER_BUILDKIT=0 in the runner's env): COPY needs no container runtime
    await d.docker(args, { timeoutMs: 300_000 });
    const id = fs.readFileSync(iidFile, 'utf8').trim();
    if (!/^sha256:[0-9a-f]{64}$/.test(id)) throw new Error(`docker build wrote an odd image ID: ${JSON.stringify(id)}`);
    return { id, layerSizes: [...layerSizes] };
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
}
