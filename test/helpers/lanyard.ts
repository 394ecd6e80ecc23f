// Start a real `lanyard serve` process for a test (the compiled CLI, as a user runs it).
//
// When LANYARD_SUITE_LOGS names a folder (test/run.js sets it), stop() and kill9() copy the
// server's JSON-lines logs (<dataDir>/logs/*.jsonl*) there once the process has exited, before
// the test removes its data dir; test/final/logs.test.ts checks them for leaked secrets after
// the whole suite.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, waitForOutput, tempDir, Daemon } from './proc';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const lanyardBin = path.join(repoRoot, 'bin', 'lanyard.js');

export interface LanyardServer extends Daemon {
  url: string; // e.g. http://127.0.0.1:41234
  host: string; // e.g. 127.0.0.1:41234 (what docker image names use)
  port: number;
  dataDir: string;
}

export interface LanyardOptions {
  dataDir?: string;
  addr?: string; // HOST:PORT, default 127.0.0.1:0 (a free port)
  deleteEnabled?: boolean;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** command prefix, e.g. ['ip', 'netns', 'exec', 'ns1'] */
  wrap?: string[];
}

/** Copy <dataDir>/logs/*.jsonl* into $LANYARD_SUITE_LOGS (when set); never throws. */
export function collectSuiteLogs(dataDir: string, pid: number): void {
  const dest = process.env.LANYARD_SUITE_LOGS;
  if (!dest) return;
  const logs = path.join(dataDir, 'logs');
  let names: string[];
  try {
    names = fs.readdirSync(logs).filter((n) => /\.jsonl/.test(n));
  } catch {
    return; // no logs folder (the server never got that far, or the test removed it)
  }
  try {
    fs.mkdirSync(dest, { recursive: true });
    // one name per copy: the same data dir may be served by several processes in turn
    const tag = `${path.basename(dataDir).replace(/[^A-Za-z0-9._-]/g, '_')}-${pid}-${crypto.randomBytes(3).toString('hex')}`;
    for (const n of names) {
      const src = path.join(logs, n);
      if (fs.statSync(src).isFile()) fs.copyFileSync(src, path.join(dest, `${tag}-${n}`));
    }
  } catch (e) {
    process.emitWarning(`could not copy the server logs of ${dataDir} to ${dest}: ${(e as Error).message}`);
  }
}

export async function startLanyard(opts: LanyardOptions = {}): Promise<LanyardServer> {
  const dataDir = opts.dataDir ?? tempDir('lanyard-data');
  const args = [lanyardBin, 'serve', '--addr', opts.addr ?? '127.0.0.1:0', '--data', dataDir];
  if (opts.deleteEnabled) args.push('--delete-enabled');
  args.push(...(opts.args ?? []));
  const [cmd, ...pre] = opts.wrap?.length ? [...opts.wrap, process.execPath] : [process.execPath];
  const d = startDaemon(cmd, [...pre, ...args], { env: { LANYARD_MDNS: '0', ...process.env, ...opts.env } });
  // once per process, after it has exited (whichever of stop/kill9 ran first)
  let collected = false;
  const collect = () => {
    if (collected) return;
    collected = true;
    collectSuiteLogs(dataDir, d.pid);
  };
  const stop = async (graceMs?: number) => {
    await d.stop(graceMs);
    collect();
  };
  const kill9 = async () => {
    await d.kill9();
    collect();
  };
  const m = await waitForOutput(d, /listening on (https?):\/\/(\S+):(\d+)/);
  const port = Number(m[3]);
  const hostname = m[2];
  return { ...d, stop, kill9, url: `${m[1]}://${hostname}:${port}`, host: `${hostname}:${port}`, port, dataDir };
}
