// `lanyard trust install | status | uninstall | plan | join-command`: make this machine's
// clients (and other machines) trust the registry's CA.
import fs from 'node:fs';
import readline from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_HOST, DEFAULT_PORT, parseAddr, resolveDataDir } from '../config';
import { caInfoFromPem, caPemPath, detectTrustInputs, findOnPath, registryAddresses } from './detect';
import { runCommand } from './exec';
import { renderJoinCommand } from './join';
import { buildInstallPlan, buildUninstallPlan, renderCmdScript, renderPlanText, renderShellScript, type TrustInputs } from './plan';
import { readInstalled, recordPath } from './record';
import { installTrust, isRoot, uninstallTrust, type ElevatedRunner, type RunResult } from './run';
import { trustStatus } from './status';

export const TRUST_USAGE = `Usage: lanyard trust <command> [--data DIR] [--addr HOST:PORT]...

Commands:
  plan [--uninstall] [--script]  show what install (or uninstall) would do; --script prints
                                 the shell script that would run as root
  install [--yes]                trust the CA on this machine: system store, Docker, podman,
                                 containerd (when config_path is set), Firefox/Chromium
                                 (with certutil); asks for administrator rights once
  status [--url URL] [--json]    check each target for real (and a TLS handshake with URL);
                                 exit 1 when something is missing or different
  uninstall [--generic]          remove exactly what install added (as recorded in
                                 <data>/trust/installed.json); --generic, without a record:
                                 remove the CA files that still match, and empty folders
  join-command                   print the one-line command for other machines on the LAN

Options:
  --data DIR        data directory (the CA is <data>/tls/ca.pem)
  --addr HOST:PORT  the registry's address (default: REGISTRY_HTTP_ADDR or ${DEFAULT_HOST}:${DEFAULT_PORT});
                    0.0.0.0:PORT stands for hostname, hostname.local and every LAN IP;
                    repeat it for several
`;

/** Elevation for the command line: sudo, which asks for the password on the terminal. */
export function sudoRunner(env: NodeJS.ProcessEnv = process.env): ElevatedRunner | null {
  if (!findOnPath('sudo', env)) return null;
  return {
    run: (_command, o) => runCommand(['sudo', '/bin/sh', o.scriptPath], { env, stdin: 'inherit', timeoutMs: 600_000 }),
  };
}

function listenAddrs(flags: string[] | undefined, env: NodeJS.ProcessEnv): { host: string; port: number }[] {
  const list = flags && flags.length > 0 ? flags : [env.REGISTRY_HTTP_ADDR ?? `${DEFAULT_HOST}:${DEFAULT_PORT}`];
  return list.map((a) => parseAddr(a));
}

function clientAddresses(listen: { host: string; port: number }[], loopback: boolean): string[] {
  const out: string[] = [];
  for (const l of listen) for (const a of registryAddresses(l.host, l.port, { loopback })) if (!out.includes(a)) out.push(a);
  return out;
}

function printResults(results: RunResult[]): boolean {
  let ok = true;
  for (const r of results) {
    for (const t of r.targets) {
      const mark = t.state === 'ok' ? 'ok    ' : t.state === 'failed' ? 'FAILED' : 'NOT RUN';
      console.log(`${mark} ${t.label}${t.reason ? `: ${t.reason}` : ''}`);
      for (const s of t.steps) if (s.detail && t.state === 'ok') console.log(`         ${s.description} (${s.detail})`);
    }
    if (!r.ok) ok = false;
  }
  return ok;
}

function fail(message: string): number {
  process.stderr.write(message);
  return 1;
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return true;
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export async function trustCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      addr: { type: 'string', multiple: true },
      url: { type: 'string' },
      json: { type: 'boolean' },
      script: { type: 'boolean' },
      uninstall: { type: 'boolean' },
      generic: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, ...extra] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(TRUST_USAGE);
    return cmd || values.help ? 0 : 2;
  }
  if (extra.length > 0) {
    process.stderr.write(`lanyard trust ${cmd}: unexpected argument "${extra[0]}"\n`);
    return 2;
  }
  const dataDir = resolveDataDir(values.data, env);
  const caPem = caPemPath(dataDir);
  const listen = listenAddrs(values.addr, env);

  const needCa = (): string | null => {
    if (fs.existsSync(caPem)) return null;
    return `lanyard trust: there is no CA at ${caPem} yet; start the registry once (lanyard serve --data ${dataDir}) to create it\n`;
  };
  const inputs = async (): Promise<TrustInputs> => detectTrustInputs({ caPem, addresses: clientAddresses(listen, true), env });

  switch (cmd) {
    case 'plan': {
      const missing = needCa();
      if (missing) return fail(missing);
      const i = await inputs();
      const plan = values.uninstall ? buildUninstallPlan(i) : buildInstallPlan(i);
      if (values.script) {
        const parts = plan.platform === 'win32' ? [renderCmdScript(plan)] : [renderShellScript(plan, 'elevated'), renderShellScript(plan, 'user')];
        process.stdout.write(parts.filter((p): p is string => p !== null).join('\n# ---- as the user ----\n'));
      } else {
        process.stdout.write(renderPlanText(plan));
      }
      return 0;
    }
    case 'install': {
      const missing = needCa();
      if (missing) return fail(missing);
      const i = await inputs();
      process.stdout.write(renderPlanText(buildInstallPlan(i)) + '\n');
      if (!values.yes && !(await confirm('Go ahead? [y/N] '))) {
        console.log('Nothing was changed.');
        return 1;
      }
      const runner = isRoot() ? undefined : sudoRunner(env) ?? undefined;
      if (!isRoot() && !runner) {
        process.stderr.write(`lanyard trust: this needs root and sudo is not available; run it as root: lanyard trust install --data ${dataDir}\n`);
        return 1;
      }
      const r = await installTrust(i, { dataDir, runner, env });
      const ok = printResults([r]);
      console.log(ok ? `\nDone. What was added is recorded in ${recordPath(dataDir)}.` : `\nSome targets failed (see above). What was added is recorded in ${recordPath(dataDir)}.`);
      return ok ? 0 : 1;
    }
    case 'uninstall': {
      const record = await readInstalled(dataDir);
      let fallback: TrustInputs | undefined;
      if (record.installs.length === 0) {
        if (!values.generic) {
          console.log(`Nothing is recorded in ${recordPath(dataDir)}: nothing to uninstall. (--generic removes matching CA files without a record.)`);
          return 0;
        }
        const missing = needCa();
        if (missing) return fail(missing);
        fallback = await inputs();
      }
      const runner = isRoot() ? undefined : sudoRunner(env) ?? undefined;
      if (!isRoot() && !runner) {
        process.stderr.write(`lanyard trust: this needs root and sudo is not available; run it as root: lanyard trust uninstall --data ${dataDir}\n`);
        return 1;
      }
      const results = await uninstallTrust({ dataDir, runner, env, fallback });
      const ok = printResults(results);
      console.log(ok ? '\nDone.' : '\nSome steps failed (see above); they stay recorded, run uninstall again to retry.');
      return ok ? 0 : 1;
    }
    case 'status': {
      const missing = needCa();
      if (missing) return fail(missing);
      const i = await inputs();
      const st = await trustStatus(i, { url: values.url, env });
      if (values.json) process.stdout.write(JSON.stringify(st, null, 2) + '\n');
      else {
        const ca = caInfoFromPem(fs.readFileSync(caPem, 'utf8'));
        console.log(`CA ${i.caName} (SHA-256 ${ca.fingerprintColon})`);
        for (const s of st) console.log(`${s.state.padEnd(9)} ${s.label}: ${s.detail}`);
      }
      return st.some((s) => s.state === 'missing' || s.state === 'mismatch') ? 1 : 0;
    }
    case 'join-command': {
      const missing = needCa();
      if (missing) return fail(missing);
      const ca = caInfoFromPem(fs.readFileSync(caPem, 'utf8'));
      const lan = clientAddresses(listen, false);
      if (lan.length === 0) {
        process.stderr.write('lanyard trust: the registry address is loopback only; other machines cannot reach it. Pass the LAN address, e.g. --addr 0.0.0.0:5000\n');
        return 1;
      }
      // an IP works without mDNS on the other machine
      const addr = lan.find((a) => /^\d/.test(a)) ?? lan[0];
      process.stderr.write(`On another machine (Linux, with curl), run this to trust the registry at ${addr}\n(CA fingerprint ${ca.fingerprintColon}):\n\n`);
      process.stdout.write(renderJoinCommand({ addr, fingerprint: ca.fingerprint }) + '\n');
      if (lan.length > 1) process.stderr.write(`\nThe registry also answers as: ${lan.filter((a) => a !== addr).join(', ')}\n`);
      return 0;
    }
    default:
      process.stderr.write(`lanyard trust: unknown command "${cmd}"\n\n${TRUST_USAGE}`);
      return 2;
  }
}
