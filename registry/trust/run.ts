// Executing a trust plan. The CA is staged (as the user) into a private temp dir; the
// elevated part of the plan runs as one script: directly with sh when we are root, else
// through an ElevatedRunner (the Electron main process implements it with
// @vscode/sudo-prompt; the CLI with sudo). The user part (NSS databases) runs as the user.
// Results come back per step from the script's @@lanyard lines, so a failed step is never
// reported as done; the install is recorded in <data>/trust/installed.json and uninstall
// undoes exactly what is recorded there.
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { caInfoFromPem, trustDir } from './detect';
import { runCommand, type CommandResult } from './exec';
import {
  buildInstallPlan,
  buildUninstallPlan,
  renderCmdScript,
  renderShellScript,
  uninstallPlanFromRecord,
  type ScriptPart,
  type Step,
  type TargetKind,
  type TrustInputs,
  type TrustPlan,
} from './plan';
import {
  applyUninstall,
  chownToDataOwner,
  mergeRecords,
  parseMarkers,
  readInstalled,
  recordFromInstall,
  recordPath,
  writeInstalled,
  type StepOutcome,
} from './record';

/** Runs one command line with administrator rights (one prompt). */
export interface ElevatedRunner {
  /**
   * `command` is `/bin/sh '<script>'` (Linux/macOS) or `cmd.exe /d /c "<script>"` (Windows).
   * Resolve with the exit code and the output (stdout carries the step results); resolve
   * with a non-zero code rather than rejecting when the command fails. Rejecting (e.g.
   * the user dismissed the prompt) marks every elevated step as not run.
   */
  run(command: string, options: { name: string; scriptPath: string; script: string }): Promise<CommandResult>;
}

export interface RunOptions {
  /** data dir: <data>/trust/installed.json and the kept CA copy */
  dataDir: string;
  /** elevation when not root */
  runner?: ElevatedRunner;
  /**
   * whether this process already has administrator rights, so the elevated part runs
   * directly with sh (default: uid 0; tests installing into a fake root say true)
   */
  elevated?: boolean;
  /** environment of directly run scripts */
  env?: NodeJS.ProcessEnv;
  /** where the private stage dir is made (default os.tmpdir()) */
  tmpDir?: string;
  now?: () => Date;
}

export interface StepResult {
  id: number;
  description: string;
  state: StepOutcome['state'];
  detail?: string;
}

export interface TargetResult {
  id: string;
  kind: TargetKind;
  label: string;
  /** ok: every step done; failed: a step failed (reason says which); not-run: nothing ran */
  state: 'ok' | 'failed' | 'not-run';
  reason?: string;
  steps: StepResult[];
}

export interface RunResult {
  action: 'install' | 'uninstall';
  ok: boolean;
  plan: TrustPlan;
  targets: TargetResult[];
  /** set when elevation was needed and no runner was given: nothing ran; the script waits in stageDir */
  elevation?: { command: string; script: string; scriptPath: string; stageDir: string };
  stdout: string;
  stderr: string;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

async function makeStageDir(opts: RunOptions): Promise<string> {
  return fsp.mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'lanyard-trust-'));
}

async function stage(plan: TrustPlan): Promise<void> {
  await fsp.mkdir(plan.stage.dir, { recursive: true, mode: 0o700 });
  await fsp.copyFile(plan.stage.src, plan.stage.file);
  await fsp.chmod(plan.stage.file, 0o644);
}

function scriptFor(plan: TrustPlan, part: ScriptPart): { text: string; file: string; command: string } | null {
  if (plan.platform === 'win32') {
    if (part === 'user') return null;
    const text = renderCmdScript(plan);
    if (!text) return null;
    const file = path.win32.join(plan.stage.dir, `${plan.action}.cmd`);
    return { text, file, command: `cmd.exe /d /c "${file}"` };
  }
  const text = renderShellScript(plan, part);
  if (!text) return null;
  const file = path.posix.join(plan.stage.dir, `${plan.action}-${part}.sh`);
  return { text, file, command: `/bin/sh '${file.replace(/'/g, `'\\''`)}'` };
}

interface PartOutput {
  part: ScriptPart;
  result: CommandResult | null;
  /** why the part did not run */
  error?: string;
}

function describeOutcome(s: Step, o: StepOutcome | undefined): StepResult {
  const r: StepResult = { id: s.id, description: s.description, state: o?.state ?? 'not-run' };
  if (!o) return r;
  if (o.state === 'failed') {
    r.detail = o.message ? `failed (exit ${o.code}): ${o.message}` : `failed (exit ${o.code})`;
    return r;
  }
  const notes: string[] = [];
  for (const e of o.events) {
    if (e.event === 'adopted' || e.event === 'adopted-sole') notes.push('already in place');
    else if (e.event === 'moved-aside') notes.push(`a different file was moved to ${e.arg}.lanyard-backup`);
    else if (e.event === 'kept-changed') notes.push('kept: it changed since Lanyard put it there');
    else if (e.event === 'kept-dir') notes.push('kept: not empty');
    else if (e.event === 'kept-backup') notes.push(`kept ${e.arg}: something is in its place`);
    else if (e.event === 'absent') notes.push('already gone');
    else if (e.event === 'restored') notes.push(`restored ${e.arg}`);
  }
  if (notes.length > 0) r.detail = [...new Set(notes)].join('; ');
  return r;
}

function targetResults(plan: TrustPlan, outcomes: Map<number, StepOutcome>, parts: PartOutput[]): TargetResult[] {
  return plan.targets.map((t) => {
    const steps = t.steps.map((s) => describeOutcome(s, outcomes.get(s.id)));
    const res: TargetResult = { id: t.id, kind: t.kind, label: t.label, state: 'ok', steps };
    const failed = steps.find((s) => s.state === 'failed');
    const part = parts.find((p) => p.part === (t.elevated ? 'elevated' : 'user'));
    if (failed) {
      res.state = 'failed';
      res.reason = `step ${failed.id} (${failed.description}) ${failed.detail ?? 'failed'}`;
    } else if (steps.every((s) => s.state === 'not-run')) {
      res.state = 'not-run';
      res.reason = part?.error ?? (part?.result ? `the script stopped before this target (exit ${part.result.code}): ${lastLine(part.result.stderr)}` : 'not run');
    } else if (steps.some((s) => s.state !== 'ok')) {
      res.state = 'failed';
      const s = steps.find((x) => x.state !== 'ok')!;
      res.reason = `step ${s.id} (${s.description}) was ${s.state === 'skipped' ? 'skipped' : 'not run'}${part?.result ? `: ${lastLine(part.result.stderr)}` : ''}`;
    }
    return res;
  });
}

function lastLine(s: string): string {
  const lines = s.trim().split(/\r?\n/).filter(Boolean);
  return lines.length ? lines[lines.length - 1].slice(0, 400) : 'no error output';
}

async function runParts(plan: TrustPlan, opts: RunOptions): Promise<{ parts: PartOutput[]; elevation?: RunResult['elevation'] }> {
  const parts: PartOutput[] = [];
  const elevated = scriptFor(plan, 'elevated');
  const user = scriptFor(plan, 'user');
  for (const s of [elevated, user]) if (s) await fsp.writeFile(s.file, s.text, { mode: 0o644 });
  if (elevated) {
    if (opts.elevated ?? isRoot()) {
      parts.push({ part: 'elevated', result: await runCommand(plan.platform === 'win32' ? ['cmd.exe', '/d', '/c', elevated.file] : ['/bin/sh', elevated.file], { env: opts.env, timeoutMs: 600_000 }) });
    } else if (opts.runner) {
      try {
        parts.push({ part: 'elevated', result: await opts.runner.run(elevated.command, { name: 'Lanyard', scriptPath: elevated.file, script: elevated.text }) });
      } catch (err) {
        parts.push({ part: 'elevated', result: null, error: `administrator rights were not granted: ${(err as Error).message}` });
      }
    } else {
      return { parts, elevation: { command: elevated.command, script: elevated.text, scriptPath: elevated.file, stageDir: plan.stage.dir } };
    }
  }
  if (user) {
    const refused = parts.find((p) => p.part === 'elevated' && p.result === null);
    if (refused) parts.push({ part: 'user', result: null, error: `not run: ${refused.error}` });
    else parts.push({ part: 'user', result: await runCommand(['/bin/sh', user.file], { env: opts.env, timeoutMs: 600_000 }) });
  }
  return { parts };
}

/** Combine the parts' outputs into a RunResult (no bookkeeping). */
function resultOf(plan: TrustPlan, parts: PartOutput[]): { result: RunResult; outcomes: Map<number, StepOutcome> } {
  const stdout = parts.map((p) => p.result?.stdout ?? '').join('');
  const stderr = parts.map((p) => p.result?.stderr ?? p.error ?? '').join('');
  const outcomes = parseMarkers(stdout);
  const targets = targetResults(plan, outcomes, parts);
  const ok = targets.every((t) => t.state === 'ok');
  return { result: { action: plan.action, ok, plan, targets, stdout, stderr }, outcomes };
}

/**
 * Install: stage the CA, run the plan, record what was added. `inputs.stageDir` is
 * ignored (a private one is made). When elevation is needed and there is no runner,
 * nothing runs: the result carries the script (see finishInstall).
 */
export async function installTrust(inputs: TrustInputs, opts: RunOptions): Promise<RunResult> {
  const pem = await fsp.readFile(inputs.caPem, 'utf8');
  const ca = caInfoFromPem(pem);
  const stageDir = await makeStageDir(opts);
  let keep = false;
  try {
    const plan = buildInstallPlan({ ...inputs, stageDir });
    await stage(plan);
    // keep the CA beside the record: uninstall compares files with it, even after the CA changes
    const caCopy = path.join(trustDir(opts.dataDir), `${plan.caName}.pem`);
    await fsp.mkdir(path.dirname(caCopy), { recursive: true });
    await fsp.writeFile(caCopy, pem, { mode: 0o644 });
    await chownToDataOwner(opts.dataDir, [path.dirname(caCopy), caCopy]);
    const { parts, elevation } = await runParts(plan, opts);
    if (elevation) {
      keep = true;
      return { action: 'install', ok: false, plan, targets: targetResults(plan, new Map(), [{ part: 'elevated', result: null, error: 'needs administrator rights' }, { part: 'user', result: null, error: 'waits for the elevated part' }]), elevation, stdout: '', stderr: '' };
    }
    return await recordInstallRun(plan, parts, ca.fingerprint, caCopy, opts);
  } finally {
    if (!keep) await fsp.rm(stageDir, { recursive: true, force: true });
  }
}

/**
 * After the caller ran `result.elevation.command` itself: record the outcome from its
 * output, run the user part, and remove the stage dir.
 */
export async function finishInstall(pending: RunResult, output: CommandResult, opts: RunOptions): Promise<RunResult> {
  const plan = pending.plan;
  try {
    const parts: PartOutput[] = [{ part: 'elevated', result: output }];
    const user = scriptFor(plan, 'user');
    if (user) parts.push({ part: 'user', result: await runCommand(['/bin/sh', user.file], { env: opts.env }) });
    const pem = await fsp.readFile(path.join(trustDir(opts.dataDir), `${plan.caName}.pem`), 'utf8');
    return await recordInstallRun(plan, parts, caInfoFromPem(pem).fingerprint, path.join(trustDir(opts.dataDir), `${plan.caName}.pem`), opts);
  } finally {
    await fsp.rm(plan.stage.dir, { recursive: true, force: true });
  }
}

async function recordInstallRun(plan: TrustPlan, parts: PartOutput[], fingerprint: string, caCopy: string, opts: RunOptions): Promise<RunResult> {
  const { result, outcomes } = resultOf(plan, parts);
  const now = (opts.now ?? (() => new Date()))().toISOString();
  const rec = recordFromInstall(plan, outcomes, { fingerprint, caCopy, now });
  const file = await readInstalled(opts.dataDir);
  const i = file.installs.findIndex((r) => r.caName === rec.caName);
  if (rec.targets.length > 0 || rec.dirs.length > 0 || i >= 0) {
    const merged = mergeRecords(i >= 0 ? file.installs[i] : undefined, rec);
    if (i >= 0) file.installs[i] = merged;
    else file.installs.push(merged);
    await writeInstalled(opts.dataDir, file);
  } else {
    await fsp.rm(caCopy, { force: true });
    await fsp.rmdir(path.dirname(caCopy)).catch(() => undefined);
  }
  return result;
}

/**
 * Uninstall everything installed.json records (newest install first), each with its own
 * plan and result. Without a record and with `fallback` inputs, runs the generic uninstall
 * plan for them (removes files only while they still are the CA, folders only when empty).
 */
export async function uninstallTrust(opts: RunOptions & { fallback?: TrustInputs }): Promise<RunResult[]> {
  const file = await readInstalled(opts.dataDir);
  const results: RunResult[] = [];
  if (file.installs.length === 0) {
    if (!opts.fallback) return results;
    const stageDir = await makeStageDir(opts);
    try {
      const plan = buildUninstallPlan({ ...opts.fallback, stageDir });
      await stage(plan);
      const { parts, elevation } = await runParts(plan, opts);
      if (elevation) throw new Error('uninstall needs administrator rights: run as root or give an ElevatedRunner');
      results.push(resultOf(plan, parts).result);
    } finally {
      await fsp.rm(stageDir, { recursive: true, force: true });
    }
    return results;
  }
  for (const record of [...file.installs].reverse()) {
    const stageDir = await makeStageDir(opts);
    try {
      const plan = uninstallPlanFromRecord(record, { stageDir });
      await stage(plan);
      const { parts, elevation } = await runParts(plan, opts);
      if (elevation) throw new Error('uninstall needs administrator rights: run as root or give an ElevatedRunner');
      const { result, outcomes } = resultOf(plan, parts);
      results.push(result);
      const left = applyUninstall(record, plan, outcomes);
      const idx = file.installs.findIndex((r) => r.caName === record.caName);
      if (left) file.installs[idx] = { ...left, updatedAt: (opts.now ?? (() => new Date()))().toISOString() };
      else {
        file.installs.splice(idx, 1);
        await fsp.rm(record.caCopy, { force: true });
      }
      await writeInstalled(opts.dataDir, file);
    } finally {
      await fsp.rm(stageDir, { recursive: true, force: true });
    }
  }
  if (file.installs.length === 0) await fsp.rmdir(trustDir(opts.dataDir)).catch(() => undefined);
  return results;
}

export { recordPath };
