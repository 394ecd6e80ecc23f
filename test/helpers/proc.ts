// Small process helpers for tests and benchmarks: start a daemon, wait for a line or a URL,
// stop it by PID (SIGTERM, then SIGKILL after a grace period).
import { spawn, ChildProcess, SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Daemon {
  pid: number;
  child: ChildProcess;
  /** everything the process printed so far (stdout + stderr) */
  output(): string;
  stop(graceMs?: number): Promise<void>;
  kill9(): Promise<void>;
  exited: Promise<number | null>;
}

export function startDaemon(cmd: string, args: string[], opts: SpawnOptions & { logFile?: string } = {}): Daemon {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (!child.pid) throw new Error(`could not start ${cmd}`);
  let out = '';
  const log = opts.logFile ? fs.createWriteStream(opts.logFile, { flags: 'a' }) : null;
  const onData = (b: Buffer) => {
    const s = b.toString();
    if (out.length < 1_000_000) out += s;
    log?.write(b);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => {
    log?.end();
    resolve(code ?? (signal ? 128 : null));
  }));
  const pid = child.pid;
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    pid,
    child,
    output: () => out,
    exited,
    async stop(graceMs = 10_000) {
      if (!alive()) return;
      process.kill(pid, 'SIGTERM');
      const t = setTimeout(() => { if (alive()) process.kill(pid, 'SIGKILL'); }, graceMs);
      await exited;
      clearTimeout(t);
    },
    async kill9() {
      if (!alive()) return;
      process.kill(pid, 'SIGKILL');
      await exited;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait until `pattern` appears in the daemon's output; returns the match. */
export async function waitForOutput(d: Daemon, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = d.output().match(pattern);
    if (m) return m;
    if (d.child.exitCode !== null) throw new Error(`process exited (${d.child.exitCode}) before printing ${pattern}:\n${d.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${d.output()}`);
    await sleep(50);
  }
}

/** Poll `check` until it holds; fails after `timeoutMs` naming `what`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

/** Poll a URL until it answers with any HTTP status. */
export async function waitForHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}`);
      await sleep(100);
    }
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/** A free TCP port on 127.0.0.1 (bind to 0, read, close). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Fail loudly when a tool the test needs is missing: CI must never skip silently. */
export function requireTool(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  throw new Error(`required tool '${name}' is not installed (see .ci/run for the apt packages)`);
}
