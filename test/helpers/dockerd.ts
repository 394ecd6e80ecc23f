// Start a private Docker Engine (dockerd) for one test file: its own data root, exec root,
// socket, pidfile and client config, all in one temp dir, so it never touches a system daemon.
// Storage driver vfs (works anywhere, no overlay mounts), no iptables, no default bridge.
// stop() ends dockerd by PID, makes sure the containerd that dockerd started is gone too,
// and removes the temp dir (vfs copies every layer in full, so it can be large).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, requireTool, sleep, Daemon } from './proc';

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DockerRunOptions {
  /** do not throw when the command exits non-zero */
  allowFail?: boolean;
  timeoutMs?: number;
  /** extra environment for this one command */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export type DockerRunner = (args: string[], opts?: DockerRunOptions) => Promise<DockerResult>;

export interface Dockerd {
  pid: number;
  /** temp dir holding everything of this daemon */
  dir: string;
  /** unix socket path */
  socket: string;
  /** DOCKER_HOST value, e.g. unix:///tmp/dkd-abc/s */
  dockerHost: string;
  /** API version the client is pinned to (the daemon's) */
  apiVersion: string;
  /** path of the daemon's log file (inside dir) */
  logFile: string;
  /** run the docker client against this daemon */
  docker: DockerRunner;
  /** environment for running the docker client yourself */
  env: NodeJS.ProcessEnv;
  /** the last `lines` lines of the daemon's log */
  logTail(lines?: number): string;
  daemon: Daemon;
  /** stop dockerd (and its containerd) and remove the temp dir; keepLog leaves the log file in place */
  stop(opts?: { keepLog?: boolean }): Promise<void>;
}

export interface DockerdOptions {
  /** how long to wait for `docker info` to work, default 60 s */
  startTimeoutMs?: number;
  /** extra dockerd arguments */
  args?: string[];
}

/** The docker client binary: the 28.x client in /usr/local/bin comes first on PATH. */
function dockerClient(): string {
  return requireTool('docker');
}

// Unix socket paths are limited to 108 bytes; containerd puts `containerd.sock.ttrpc` under the
// exec root, so keep the base short even when TMPDIR is long.
function shortTempDir(prefix: string): string {
  let base = os.tmpdir();
  if (base.length > 40) base = '/tmp';
  return fs.mkdtempSync(path.join(base, `${prefix}-`));
}

function runProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: DockerRunOptions): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    // async spawn, never spawnSync: other daemons of the test (the registry) write to pipes
    // that this process must keep draining while docker runs.
    const child = spawn(cmd, args, { env: { ...env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { if (stdout.length < 4_000_000) stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { if (stderr.length < 4_000_000) stderr += b.toString(); });
    const timeoutMs = opts.timeoutMs ?? 300_000;
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const res = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (timedOut) {
        reject(new Error(`docker ${args.join(' ')} timed out after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      } else if (res.code !== 0 && !opts.allowFail) {
        reject(new Error(`docker ${args.join(' ')} exited ${res.code}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      } else {
        resolve(res);
      }
    });
  });
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Mount points at or below `dir` (deepest first), from /proc/self/mountinfo. */
function mountsBelow(dir: string): string[] {
  let info = '';
  try { info = fs.readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return []; }
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\040/g, ' ');
    if (p === dir || p.startsWith(dir + '/')) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

export async function startDockerd(opts: DockerdOptions = {}): Promise<Dockerd> {
  const dockerdBin = requireTool('dockerd');
  const client = dockerClient();
  requireTool('containerd'); // dockerd starts its own containerd from PATH
  const dir = shortTempDir('dkd');
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'exec');
  const clientConfig = path.join(dir, 'client');
  for (const d of [dataRoot, execRoot, clientConfig]) fs.mkdirSync(d, { recursive: true });
  const socket = path.join(dir, 's');
  const pidfile = path.join(dir, 'dockerd.pid');
  const logFile = path.join(dir, 'dockerd.log');
  const configFile = path.join(dir, 'daemon.json');
  // an empty config file of our own, so /etc/docker/daemon.json (if any) cannot interfere
  fs.writeFileSync(configFile, '{}\n');
  const dockerHost = `unix://${socket}`;

  const daemon = startDaemon(dockerdBin, [
    '--data-root', dataRoot,
    '--exec-root', execRoot,
    '--host', dockerHost,
    '--pidfile', pidfile,
    '--config-file', configFile,
    '--storage-driver=vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    ...(opts.args ?? []),
  ], { logFile, env: { ...process.env } });

  const containerdPidFile = path.join(execRoot, 'containerd', 'containerd.pid');
  let containerdPid: number | null = null;
  const readContainerdPid = () => {
    try {
      const n = Number(fs.readFileSync(containerdPidFile, 'utf8').trim());
      if (Number.isInteger(n) && n > 0) containerdPid = n;
    } catch { /* not written yet */ }
  };

  const baseEnv: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: dockerHost, DOCKER_CONFIG: clientConfig, DOCKER_BUILDKIT: '0' };
  delete baseEnv.DOCKER_CONTEXT;
  delete baseEnv.DOCKER_TLS_VERIFY;
  delete baseEnv.DOCKER_CERT_PATH;
  delete baseEnv.DOCKER_API_VERSION;

  const logTail = (lines = 80) => {
    let text = '';
    try { text = fs.readFileSync(logFile, 'utf8'); } catch { text = daemon.output(); }
    // grpc connectivity chatter and containerd's plugin list say nothing useful
    const kept = text.split('\n').filter((l) => !/module=grpc|loading plugin|type=io\.containerd\./.test(l));
    return kept.slice(-lines).join('\n');
  };

  let stopped = false;
  const stop = async (o: { keepLog?: boolean } = {}) => {
    if (stopped) return;
    stopped = true;
    readContainerdPid();
    await daemon.stop(20_000);
    // dockerd stops the containerd it supervises; if dockerd died hard, containerd is orphaned.
    if (containerdPid !== null && alive(containerdPid)) {
      // make sure the PID still is our containerd before signalling it
      let cmdline = '';
      try { cmdline = fs.readFileSync(`/proc/${containerdPid}/cmdline`, 'utf8'); } catch { /* gone */ }
      if (cmdline.includes(execRoot)) {
        process.kill(containerdPid, 'SIGTERM');
        for (let i = 0; i < 100 && alive(containerdPid); i++) await sleep(100);
        if (alive(containerdPid)) process.kill(containerdPid, 'SIGKILL');
      }
    }
    for (const mp of mountsBelow(dir)) {
      await runProcess('umount', ['-l', mp], process.env, { allowFail: true, timeoutMs: 10_000 });
    }
    if (mountsBelow(dir).length) throw new Error(`cannot remove ${dir}: still mounted: ${mountsBelow(dir).join(', ')}`);
    if (o.keepLog) {
      for (const e of fs.readdirSync(dir)) if (path.join(dir, e) !== logFile) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
    } else {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  let apiVersion = '';
  const env = baseEnv;
  const docker: DockerRunner = (args, o = {}) => runProcess(client, args, env, o);

  try {
    const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
    let last = '';
    for (;;) {
      if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) {
        throw new Error(`dockerd exited (${daemon.child.exitCode ?? daemon.child.signalCode}) during startup:\n${logTail()}`);
      }
      if (fs.existsSync(socket)) {
        const r = await runProcess(client, ['version', '--format', '{{.Server.APIVersion}}'], baseEnv, { allowFail: true, timeoutMs: 10_000 });
        if (r.code === 0 && /^\d+\.\d+$/.test(r.stdout.trim())) {
          apiVersion = r.stdout.trim();
          break;
        }
        last = r.stderr;
      }
      if (Date.now() > deadline) throw new Error(`dockerd did not come up in time (last client error: ${last})\n${logTail()}`);
      await sleep(200);
    }
    // The 28.x client negotiates down to the Debian daemon (20.10, API 1.41) on its own;
    // pinning the version makes every command skip the negotiation and fail clearly if it
    // ever cannot talk to the daemon.
    env.DOCKER_API_VERSION = apiVersion;
    const info = await docker(['info', '--format', '{{.Driver}}'], { timeoutMs: 30_000 });
    if (info.stdout.trim() !== 'vfs') throw new Error(`dockerd storage driver is ${info.stdout.trim()}, expected vfs`);
    readContainerdPid();
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }

  return { pid: daemon.pid, dir, socket, dockerHost, apiVersion, logFile, docker, env, logTail, daemon, stop };
}

/** Image ID (sha256:...) of a local image reference, or null when there is no such image. */
export async function imageId(d: Dockerd, ref: string): Promise<string | null> {
  const r = await d.docker(['image', 'inspect', '--format', '{{.Id}}', ref], { allowFail: true });
  if (r.code !== 0) return null;
  return r.stdout.trim();
}

/** Remove an image and every tag / digest reference pointing at it. */
export async function removeImage(d: Dockerd, id: string): Promise<void> {
  await d.docker(['rmi', '--force', id]);
  if (await imageId(d, id)) throw new Error(`image ${id} still present after docker rmi`);
}

/** The digest docker push prints (`<tag>: digest: sha256:... size: N`). */
export function pushedDigest(pushOutput: string): string {
  const m = pushOutput.match(/digest: (sha256:[0-9a-f]{64}) size: \d+/);
  if (!m) throw new Error(`no digest in docker push output:\n${pushOutput}`);
  return m[1];
}
