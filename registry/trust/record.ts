// <data>/trust/installed.json: what `lanyard trust install` added (files and folders it
// created, files it found already in place, backups it made, commands whose undo must run),
// so that uninstall removes exactly that and nothing else.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import {
  undoKey,
  type InstallRecord,
  type RecordFile,
  type RecordTarget,
  type Step,
  type TrustPlan,
} from './plan';

export interface InstalledFile {
  version: 1;
  installs: InstallRecord[];
}

/** One step's result, read from the script's @@lanyard lines. */
export interface StepOutcome {
  id: number;
  state: 'ok' | 'failed' | 'skipped' | 'not-run';
  code?: number;
  message?: string;
  /** created-dir, created-file, adopted, adopted-sole, moved-aside, removed, absent, kept-changed, restored, kept-backup, removed-dir, kept-dir */
  events: { event: string; arg: string }[];
}

export function recordPath(dataDir: string): string {
  return path.join(dataDir, 'trust', 'installed.json');
}

export async function readInstalled(dataDir: string): Promise<InstalledFile> {
  let text: string;
  try {
    text = await fsp.readFile(recordPath(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, installs: [] };
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<InstalledFile>;
  if (parsed.version !== 1 || !Array.isArray(parsed.installs)) throw new Error(`${recordPath(dataDir)}: not a Lanyard trust record`);
  return { version: 1, installs: parsed.installs };
}

/** Write installed.json atomically (or remove it when nothing is installed). */
export async function writeInstalled(dataDir: string, file: InstalledFile): Promise<void> {
  const p = recordPath(dataDir);
  if (file.installs.length === 0) {
    await fsp.rm(p, { force: true });
    return;
  }
  await fsp.mkdir(path.dirname(p), { recursive: true });
  const tmp = `${p}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o644 });
  await fsp.rename(tmp, p);
  await chownToDataOwner(dataDir, [path.dirname(p), p]);
}

/** When root writes into a user's data dir, give the files to that user. */
export async function chownToDataOwner(dataDir: string, paths: string[]): Promise<void> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return;
  let st: fs.Stats;
  try {
    st = await fsp.stat(dataDir);
  } catch {
    return;
  }
  if (st.uid === 0) return;
  for (const p of paths) await fsp.chown(p, st.uid, st.gid).catch(() => undefined);
}

/** Parse the @@lanyard lines of a script's output into per-step outcomes. */
export function parseMarkers(stdout: string): Map<number, StepOutcome> {
  const out = new Map<number, StepOutcome>();
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^@@lanyard (\d+) (\S+)(?: (.*))?$/.exec(line.trimEnd());
    if (!m) continue;
    const id = Number(m[1]);
    const o = out.get(id) ?? { id, state: 'not-run', events: [] };
    const arg = m[3] ?? '';
    if (m[2] === 'ok') o.state = 'ok';
    else if (m[2] === 'skipped') o.state = 'skipped';
    else if (m[2] === 'failed') {
      o.state = 'failed';
      const f = /^(-?\d+)\s*(.*)$/.exec(arg);
      o.code = f ? Number(f[1]) : 1;
      const msg = (f ? f[2] : arg).trim();
      if (msg) o.message = msg;
    } else o.events.push({ event: m[2], arg });
    out.set(id, o);
  }
  return out;
}

function stepsOf(plan: TrustPlan): Step[] {
  return plan.targets.flatMap((t) => t.steps);
}

/** What an install run added, from its plan and the steps' outcomes. */
export function recordFromInstall(
  plan: TrustPlan,
  outcomes: Map<number, StepOutcome>,
  meta: { fingerprint: string; caCopy: string; now: string },
): InstallRecord {
  const dirs: string[] = [];
  const targets: RecordTarget[] = [];
  for (const t of plan.targets) {
    const rt: RecordTarget = { id: t.id, kind: t.kind, label: t.label, elevated: t.elevated, files: [], undo: [] };
    for (const s of t.steps) {
      const o = outcomes.get(s.id);
      if (!o) continue;
      for (const e of o.events) if (e.event === 'created-dir' && !dirs.includes(e.arg)) dirs.push(e.arg);
      if (s.kind === 'copy' || s.kind === 'write') {
        const ev = (name: string) => o.events.some((e) => e.event === name && e.arg === s.dest);
        const restored = ev('restored');
        const f: RecordFile = {
          path: s.dest,
          how: ev('created-file') ? 'created' : 'adopted',
          expect: s.kind === 'copy' ? { ca: true } : { text: s.content },
        };
        if (ev('moved-aside') && !restored) f.backup = `${s.dest}.lanyard-backup`;
        // only a certs.d/<addr> folder that held nothing but our CA may go at uninstall
        if (ev('adopted-sole') && (t.kind === 'docker' || t.kind === 'podman' || t.kind === 'containerd')) f.sole = true;
        if (ev('created-file') || ev('adopted') || ev('adopted-sole')) rt.files.push(f);
      } else if (s.kind === 'run' && s.undo) {
        if (o.state === 'ok' || (o.state === 'failed' && s.undoEvenIfFailed)) rt.undo.push(...s.undo);
      }
    }
    if (rt.files.length > 0 || rt.undo.length > 0) targets.push(rt);
  }
  return {
    caName: plan.caName,
    fingerprint: meta.fingerprint,
    platform: plan.platform,
    caCopy: meta.caCopy,
    installedAt: meta.now,
    updatedAt: meta.now,
    dirs,
    targets,
  };
}

/** Fold a new install of the same CA into the earlier record (created beats adopted; backups are kept). */
export function mergeRecords(prev: InstallRecord | undefined, next: InstallRecord): InstallRecord {
  if (!prev) return next;
  const targets = prev.targets.map((t) => ({ ...t, files: t.files.map((f) => ({ ...f })), undo: [...t.undo] }));
  for (const nt of next.targets) {
    let t = targets.find((x) => x.id === nt.id);
    if (!t) {
      t = { ...nt, files: [], undo: [] };
      targets.push(t);
    }
    for (const nf of nt.files) {
      const f = t.files.find((x) => x.path === nf.path);
      if (!f) {
        t.files.push({ ...nf });
        continue;
      }
      if (nf.how === 'created') f.how = 'created';
      if (nf.backup && !f.backup) f.backup = nf.backup;
      f.expect = nf.expect;
    }
    for (const u of nt.undo) if (!t.undo.some((x) => undoKey(x) === undoKey(u))) t.undo.push(u);
  }
  const dirs = [...prev.dirs];
  for (const d of next.dirs) if (!dirs.includes(d)) dirs.push(d);
  return { ...prev, fingerprint: next.fingerprint, caCopy: next.caCopy, updatedAt: next.updatedAt, dirs, targets };
}

/**
 * The record left after an uninstall run: entries whose steps all succeeded are gone,
 * the rest stay for the next attempt. Null when nothing is left.
 */
export function applyUninstall(record: InstallRecord, plan: TrustPlan, outcomes: Map<number, StepOutcome>): InstallRecord | null {
  const okFiles = new Map<string, boolean>();
  const okUndo = new Map<string, boolean>();
  const okDirs = new Set<string>();
  for (const s of stepsOf(plan)) {
    const r = s.record;
    if (!r) continue;
    const ok = outcomes.get(s.id)?.state === 'ok';
    if (r.file && r.target) {
      const k = `${r.target}\n${r.file}`;
      okFiles.set(k, (okFiles.get(k) ?? true) && ok);
    }
    if (r.undo && r.target) {
      const k = `${r.target}\n${r.undo}`;
      okUndo.set(k, (okUndo.get(k) ?? true) && ok);
    }
    if (r.dir && ok) okDirs.add(r.dir);
  }
  const targets: RecordTarget[] = [];
  for (const t of record.targets) {
    const files = t.files.filter((f) => okFiles.get(`${t.id}\n${f.path}`) !== true);
    const undo = t.undo.filter((u) => okUndo.get(`${t.id}\n${undoKey(u)}`) !== true);
    if (files.length > 0 || undo.length > 0) targets.push({ ...t, files, undo });
  }
  const dirs = record.dirs.filter((d) => !okDirs.has(d));
  if (targets.length === 0 && dirs.length === 0) return null;
  return { ...record, targets, dirs };
}
