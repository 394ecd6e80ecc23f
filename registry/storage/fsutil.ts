// Filesystem primitives for the storage driver: atomic small-file writes (temp + rename),
// tolerant reads, directory listing.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';

export function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export async function readText(p: string): Promise<string | null> {
  try {
    return await fsp.readFile(p, 'utf8');
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

export async function statOrNull(p: string): Promise<fs.Stats | null> {
  try {
    return await fsp.stat(p);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

export async function exists(p: string): Promise<boolean> {
  return (await statOrNull(p)) !== null;
}

/** Write `data` to `target` atomically: a temp file in `tmpDir` (same filesystem), then rename. */
export async function writeAtomic(tmpDir: string, target: string, data: string | Buffer): Promise<void> {
  const tmp = path.join(tmpDir, `${crypto.randomUUID()}.tmp`);
  await fsp.writeFile(tmp, data, { mode: 0o644 });
  try {
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/** Names of the entries of a directory ([] when it does not exist). */
export async function listDir(p: string): Promise<fs.Dirent[]> {
  try {
    return await fsp.readdir(p, { withFileTypes: true });
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

/** Compare like Go's sort.Strings (byte order), which registry:2 and the spec's "lexical" mean. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
