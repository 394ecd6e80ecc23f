// A throwaway "LAN" for tests: a network namespace joined to the root namespace by a veth
// pair. Docker treats 127.0.0.0/8 as an insecure registry, so TLS trust can only be tested
// against an address beyond loopback; a namespace gives one without touching a real network.
//
//   root namespace: <hostIf>  <subnet>.1/24
//   namespace:      <nsIf>    <subnet>.2/24   (plus lo, up)
//
// Names are unique per run (lny<random hex>) and the /24 is picked among 10.77.1-250.0/24 so
// that it overlaps nothing in the root namespace (leftovers of a crashed run included).
// Needs root and iproute2. destroy() deletes the veth pair and the namespace; it never kills
// anything: stop the processes you started in the namespace (by PID) first.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { requireTool } from './proc';

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Run a command to completion (optional stdin); never throws for a non-zero exit or a timeout. */
export function runCmd(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => { if (stdout.length < 2_000_000) stdout += b.toString(); });
    child.stderr!.on('data', (b: Buffer) => { if (stderr.length < 2_000_000) stderr += b.toString(); });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input);
    }
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? 60_000);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

export function showCmd(what: string, r: CmdResult): string {
  return `${what}: exit ${r.code}${r.timedOut ? ' (killed: timeout)' : ''} after ${r.ms} ms\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}

export interface Netns {
  /** the namespace name (ip netns) */
  name: string;
  /** the veth end in the root namespace */
  hostIf: string;
  /** the veth end inside the namespace */
  nsIf: string;
  /** the first three octets of the /24, e.g. "10.77.42" */
  subnet: string;
  /** <subnet>.1, in the root namespace */
  hostIp: string;
  /** <subnet>.2, in the namespace */
  nsIp: string;
  /** command prefix that runs a program inside the namespace */
  wrap: string[];
  /** add an IPv4 address (with /prefix) to the namespace's veth end */
  addAddress(cidr: string): Promise<void>;
  /** PIDs of processes still inside the namespace */
  pids(): Promise<number[]>;
  /** delete the veth pair and the namespace (idempotent); throws when something is left */
  destroy(): Promise<void>;
}

async function ip(ipBin: string, args: string[]): Promise<CmdResult> {
  return runCmd(ipBin, args, { timeoutMs: 20_000 });
}

async function ipOk(ipBin: string, args: string[]): Promise<string> {
  const r = await ip(ipBin, args);
  if (r.code !== 0) throw new Error(showCmd(`ip ${args.join(' ')}`, r));
  return r.stdout;
}

/** A free 10.77.X.0/24: nothing in the root namespace's addresses or routes mentions it. */
async function pickSubnet(ipBin: string): Promise<string> {
  const used = (await ipOk(ipBin, ['-4', '-o', 'addr', 'show'])) + (await ipOk(ipBin, ['-4', 'route', 'show', 'table', 'all']));
  for (let i = 0; i < 200; i++) {
    const x = 1 + crypto.randomInt(250);
    const subnet = `10.77.${x}`;
    if (!used.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.77.X.0/24 in the root namespace');
}

export async function createNetns(): Promise<Netns> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) throw new Error('network namespaces need root');
  const ipBin = requireTool('ip');
  const tag = crypto.randomBytes(3).toString('hex');
  const name = `lny${tag}`;
  const hostIf = `lny${tag}h`;
  const nsIf = `lny${tag}n`;
  const subnet = await pickSubnet(ipBin);
  const hostIp = `${subnet}.1`;
  const nsIp = `${subnet}.2`;

  let destroyed = false;
  const pids = async (): Promise<number[]> => {
    const r = await ip(ipBin, ['netns', 'pids', name]);
    if (r.code !== 0) return [];
    return r.stdout.split(/\s+/).filter(Boolean).map(Number);
  };
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    const left = await pids();
    // deleting one end deletes the pair; the namespace going also takes its end with it
    const link = await ip(ipBin, ['link', 'del', hostIf]);
    const ns = await ip(ipBin, ['netns', 'del', name]);
    const problems: string[] = [];
    if (left.length > 0) problems.push(`processes still in namespace ${name}: ${left.join(', ')} (the namespace lives on until they exit)`);
    if ((await ip(ipBin, ['link', 'show', hostIf])).code === 0) problems.push(`veth ${hostIf} is still there: ${link.stderr.trim()}`);
    const list = await ipOk(ipBin, ['netns', 'list']);
    if (list.split('\n').some((l) => l.split(/\s/)[0] === name)) problems.push(`namespace ${name} is still listed: ${ns.stderr.trim()}`);
    if (problems.length > 0) throw new Error(problems.join('\n'));
  };

  try {
    await ipOk(ipBin, ['netns', 'add', name]);
    await ipOk(ipBin, ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    await ipOk(ipBin, ['link', 'set', nsIf, 'netns', name]);
    await ipOk(ipBin, ['addr', 'add', `${hostIp}/24`, 'dev', hostIf]);
    await ipOk(ipBin, ['link', 'set', hostIf, 'up']);
    await ipOk(ipBin, ['-n', name, 'addr', 'add', `${nsIp}/24`, 'dev', nsIf]);
    await ipOk(ipBin, ['-n', name, 'link', 'set', nsIf, 'up']);
    await ipOk(ipBin, ['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    await destroy().catch(() => undefined);
    throw e;
  }

  return {
    name,
    hostIf,
    nsIf,
    subnet,
    hostIp,
    nsIp,
    wrap: [ipBin, 'netns', 'exec', name],
    async addAddress(cidr: string) {
      await ipOk(ipBin, ['-n', name, 'addr', 'add', cidr, 'dev', nsIf]);
    },
    pids,
    destroy,
  };
}
