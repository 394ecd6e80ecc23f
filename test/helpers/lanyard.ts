// Start a real `lanyard serve` process for a test (the compiled CLI, as a user runs it).
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

export async function startLanyard(opts: LanyardOptions = {}): Promise<LanyardServer> {
  const dataDir = opts.dataDir ?? tempDir('lanyard-data');
  const args = [lanyardBin, 'serve', '--addr', opts.addr ?? '127.0.0.1:0', '--data', dataDir];
  if (opts.deleteEnabled) args.push('--delete-enabled');
  args.push(...(opts.args ?? []));
  const [cmd, ...pre] = opts.wrap?.length ? [...opts.wrap, process.execPath] : [process.execPath];
  const d = startDaemon(cmd, [...pre, ...args], { env: { ...process.env, ...opts.env } });
  const m = await waitForOutput(d, /listening on (https?):\/\/(\S+):(\d+)/);
  const port = Number(m[3]);
  const hostname = m[2];
  return { ...d, url: `${m[1]}://${hostname}:${port}`, host: `${hostname}:${port}`, port, dataDir };
}
