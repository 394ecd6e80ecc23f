// Which process serves a data directory: `lanyard serve` (and the desktop app) record their
// pid in <data>/lanyard/server.json while they run, so offline maintenance (`lanyard gc`)
// can refuse to work under a live server. A file left by a crash names a dead pid and is
// ignored.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { RegistryPaths } from './paths';

export interface ServerRecord {
  pid: number;
  url: string;
  started: string;
}

export async function recordServer(paths: RegistryPaths, url: string): Promise<void> {
  const rec: ServerRecord = { pid: process.pid, url, started: new Date().toISOString() };
  await fsp.mkdir(path.dirname(paths.serverFile()), { recursive: true });
  await fsp.writeFile(paths.serverFile(), JSON.stringify(rec) + '\n');
}

/** Remove the record if it is ours (another server may have taken the directory since). */
export function forgetServer(paths: RegistryPaths): void {
  try {
    const rec = JSON.parse(fs.readFileSync(paths.serverFile(), 'utf8')) as ServerRecord;
    if (rec.pid === process.pid) fs.rmSync(paths.serverFile(), { force: true });
  } catch {
    /* no record, or not ours to judge */
  }
}

/** The live server recorded for this data directory, if any. */
export function liveServer(paths: RegistryPaths): ServerRecord | null {
  let rec: ServerRecord;
  try {
    rec = JSON.parse(fs.readFileSync(paths.serverFile(), 'utf8')) as ServerRecord;
  } catch {
    return null;
  }
  if (!Number.isInteger(rec.pid) || rec.pid <= 0 || rec.pid === process.pid) return null;
  try {
    process.kill(rec.pid, 0);
    return rec;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? rec : null; // EPERM: alive, someone else's
  }
}
