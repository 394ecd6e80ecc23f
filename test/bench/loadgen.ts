// Load generators for the small-request section.
//  - wrk (GET): generated Lua script sets method + headers; summary parsed.
//  - ab -i -k (HEAD): Debian's wrk 4.1.0 does not know that a response to HEAD has no body, so it
//    waits for Content-Length bytes that never come and completes 0 requests. ab handles HEAD.
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface WrkResult {
  tool: 'wrk' | 'ab';
  requests: number;
  seconds: number;
  rps: number;
  /** requests/s counting only 2xx/3xx answers */
  goodRps: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  latencyAvg: string;
  latencyP99?: string;
  /** ab only: how many requests went over a reused connection */
  keepAliveRequests?: number;
  raw: string;
}

export interface WrkOptions {
  url: string;
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  seconds: number;
  threads?: number;
  connections?: number;
  timeoutSeconds?: number;
  scriptDir: string;
}

/** load-generator children still running, so the benchmark can stop them by PID on abort. */
export const runningLoadGen = new Set<ChildProcess>();

function luaString(s: string): string {
  return JSON.stringify(s); // a JSON string literal is a valid Lua string literal for our ASCII values
}

export function writeScript(dir: string, name: string, method: string, headers: Record<string, string>): string {
  const lines = [`wrk.method = ${luaString(method)}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  const file = path.join(dir, `${name}.lua`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function parseDuration(s: string): number {
  const m = s.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1e6 : m[2] === 'ms' ? v / 1e3 : m[2] === 'm' ? v * 60 : v;
}

export function parseWrk(out: string): WrkResult {
  const reqLine = out.match(/(\d+) requests in ([\d.]+\w+),/);
  const rpsLine = out.match(/Requests\/sec:\s+([\d.]+)/);
  if (!reqLine || !rpsLine) throw new Error(`could not parse wrk output:\n${out}`);
  const requests = Number(reqLine[1]);
  const seconds = parseDuration(reqLine[2]);
  const rps = Number(rpsLine[1]);
  const non2xx = Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const se = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const socketErrors = se
    ? { connect: Number(se[1]), read: Number(se[2]), write: Number(se[3]), timeout: Number(se[4]) }
    : { connect: 0, read: 0, write: 0, timeout: 0 };
  const lat = out.match(/Latency\s+(\S+)/);
  const p99 = out.match(/^\s+99%\s+(\S+)/m);
  const goodRps = requests > 0 ? rps * (requests - non2xx) / requests : 0;
  return { tool: 'wrk', requests, seconds, rps, goodRps, non2xx, socketErrors, latencyAvg: lat?.[1] ?? '?', latencyP99: p99?.[1], raw: out };
}

function runTool(cmd: string, args: string[], done: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    runningLoadGen.add(child);
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    child.on('error', (e) => { runningLoadGen.delete(child); done(); reject(e); });
    child.on('exit', (code) => {
      runningLoadGen.delete(child);
      done();
      if (code !== 0) return reject(new Error(`${cmd} exited with ${code}:\n${out}`));
      resolve(out);
    });
  });
}

export function parseAb(out: string): WrkResult {
  const complete = out.match(/Complete requests:\s+(\d+)/);
  const taken = out.match(/Time taken for tests:\s+([\d.]+) seconds/);
  const rpsLine = out.match(/Requests per second:\s+([\d.]+)/);
  if (!complete || !taken || !rpsLine) throw new Error(`could not parse ab output:\n${out}`);
  const requests = Number(complete[1]);
  const rps = Number(rpsLine[1]);
  const non2xx = Number(out.match(/Non-2xx responses:\s+(\d+)/)?.[1] ?? 0);
  const failed = Number(out.match(/Failed requests:\s+(\d+)/)?.[1] ?? 0);
  const keepAlive = Number(out.match(/Keep-Alive requests:\s+(\d+)/)?.[1] ?? 0);
  const mean = out.match(/Time per request:\s+([\d.]+) \[ms\] \(mean\)/);
  const p99 = out.match(/^\s+99%\s+(\d+)/m);
  const goodRps = requests > 0 ? rps * (requests - non2xx) / requests : 0;
  return {
    tool: 'ab', requests, seconds: Number(taken[1]), rps, goodRps, non2xx,
    socketErrors: { connect: 0, read: failed, write: 0, timeout: 0 },
    latencyAvg: mean ? `${mean[1]}ms` : '?', latencyP99: p99 ? `${p99[1]}ms` : undefined,
    keepAliveRequests: keepAlive, raw: out,
  };
}

/** HEAD load with ab: -k keep-alive, -c concurrency, for `seconds`. */
export async function runAbHead(o: Omit<WrkOptions, 'method' | 'scriptDir' | 'threads'>): Promise<WrkResult> {
  const args = ['-i', '-k', '-q', '-c', String(o.connections ?? 16), '-t', String(o.seconds),
    // -t caps the run at 50000 requests unless -n is given; allow up to 200k req/s
    '-n', String(o.seconds * 200_000), '-s', String(o.timeoutSeconds ?? 10)];
  for (const [k, v] of Object.entries(o.headers)) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  return parseAb(await runTool('ab', args, () => undefined));
}

export function runWrk(o: WrkOptions): Promise<WrkResult> {
  const name = `wrk-${o.method}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const script = writeScript(o.scriptDir, name, o.method, o.headers);
  const args = [
    `-t${o.threads ?? 2}`, `-c${o.connections ?? 16}`, `-d${o.seconds}s`,
    `--timeout`, `${o.timeoutSeconds ?? 10}s`, '--latency', '-s', script, o.url,
  ];
  return runTool('wrk', args, () => fs.rmSync(script, { force: true })).then(parseWrk);
}
