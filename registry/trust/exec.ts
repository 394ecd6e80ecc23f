// Running external commands for the trust code: argv only (never a shell string), output
// captured, a time limit, and a missing program reported as code 127 instead of throwing.
import { spawn } from 'node:child_process';

export interface CommandResult {
  /** exit code; 127 when the program was not found, -1 when killed or failed to start */
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  input?: string;
  /** stdin of the child: 'pipe' (default, gets `input`) or 'inherit' (e.g. for a sudo password prompt) */
  stdin?: 'pipe' | 'inherit';
}

export function runCommand(argv: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv;
    let stdout = '';
    let stderr = '';
    let done = false;
    const finish = (r: CommandResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: [opts.stdin ?? 'pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ code: -1, stdout, stderr: stderr + `\n${cmd}: timed out after ${opts.timeoutMs} ms` });
    }, opts.timeoutMs ?? 120_000);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      finish({ code: err.code === 'ENOENT' ? 127 : -1, stdout, stderr: stderr + `${cmd}: ${err.message}` });
    });
    child.on('close', (code, signal) => {
      finish({ code: code ?? -1, stdout, stderr: signal ? `${stderr}\n${cmd}: killed by ${signal}` : stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input ?? '');
    }
  });
}
