// Checking, for real, whether each target of the install plan trusts the CA: files must
// exist and hold our CA (or the exact hosts.toml); the OS store must have it in the bundle
// clients read (openssl verify); NSS databases, the macOS keychain and the Windows Root
// store are asked with their own tools; optionally a TLS handshake to the registry through
// the system store (curl without -k: exit 60 means untrusted).
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { findOnPath } from './detect';
import { runCommand } from './exec';
import { buildInstallPlan, distroFamily, osStoreSpec, type Target, type TargetKind, type TrustInputs } from './plan';

export type TrustState = 'installed' | 'missing' | 'mismatch' | 'unknown';

export interface TargetStatus {
  id: string;
  kind: TargetKind | 'tls-handshake';
  label: string;
  state: TrustState;
  detail: string;
}

export interface StatusOptions {
  /** also try a TLS handshake to this registry URL (e.g. https://host:5000) */
  url?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

function derOf(pem: string): Buffer | null {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!m) return null;
  try {
    return Buffer.from(new crypto.X509Certificate(m[0]).raw);
  } catch {
    return null;
  }
}

/** installed: `file` holds our CA (or exactly `text`); mismatch: something else; missing: nothing. */
export async function checkFile(file: string, expect: { caDer: Buffer } | { text: string }): Promise<{ state: TrustState; detail: string }> {
  let content: string;
  try {
    content = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing', detail: `${file} does not exist` };
    return { state: 'unknown', detail: `${file}: ${(err as Error).message}` };
  }
  if ('text' in expect) {
    return content === expect.text ? { state: 'installed', detail: file } : { state: 'mismatch', detail: `${file} has other content` };
  }
  const der = derOf(content);
  if (der && der.equals(expect.caDer)) return { state: 'installed', detail: file };
  return { state: 'mismatch', detail: der ? `${file} holds a different certificate` : `${file} is not a PEM certificate` };
}

function combine(results: { state: TrustState; detail: string }[]): { state: TrustState; detail: string } {
  const order: TrustState[] = ['mismatch', 'unknown', 'missing'];
  for (const s of order) {
    const hit = results.find((r) => r.state === s);
    if (hit) return { state: s, detail: results.filter((r) => r.state !== 'installed').map((r) => r.detail).join('; ') };
  }
  return { state: 'installed', detail: results.map((r) => r.detail).join(', ') };
}

async function checkFiles(t: Target, caDer: Buffer): Promise<{ state: TrustState; detail: string }[]> {
  const out: { state: TrustState; detail: string }[] = [];
  for (const s of t.steps) {
    if (s.kind === 'copy') out.push(await checkFile(s.dest, { caDer }));
    else if (s.kind === 'write') out.push(await checkFile(s.dest, { text: s.content }));
  }
  return out;
}

/** Is `caPem` trusted by the PEM bundle `bundle`? (openssl verify) */
export async function verifyWithBundle(caPem: string, bundle: string, env?: NodeJS.ProcessEnv): Promise<{ state: TrustState; detail: string }> {
  try {
    await fsp.access(bundle);
  } catch {
    return { state: 'unknown', detail: `${bundle} does not exist` };
  }
  const r = await runCommand(['openssl', 'verify', '-CAfile', bundle, caPem], { env, timeoutMs: 30_000 });
  if (r.code === 127) return { state: 'unknown', detail: 'openssl is not installed: the bundle was not checked' };
  if (r.code === 0) return { state: 'installed', detail: `in ${bundle}` };
  return { state: 'missing', detail: `not in ${bundle} (${(r.stdout + r.stderr).trim().split(/\r?\n/).pop() ?? ''})` };
}

/** A TLS handshake to `url`/v2/ with curl and the system store (no -k). */
export async function checkHandshake(url: string, env?: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<TargetStatus> {
  const base = url.replace(/\/+$/, '');
  const target = `${base}/v2/`;
  const st = (state: TrustState, detail: string): TargetStatus => ({ id: 'tls-handshake', kind: 'tls-handshake', label: `TLS handshake with ${base}`, state, detail });
  if (!/^https:\/\//.test(base)) return st('unknown', `${url} is not an https URL`);
  const r = await runCommand(['curl', '--silent', '--show-error', '--output', '/dev/null', '--max-time', String(Math.ceil(timeoutMs / 1000)), target], { env, timeoutMs: timeoutMs + 5000 });
  const why = r.stderr.trim().split(/\r?\n/).pop() ?? '';
  switch (r.code) {
    case 0:
      return st('installed', `${target}: the certificate is trusted by the system store`);
    case 60:
      return st('missing', `${target}: the certificate is not trusted by the system store (curl exit 60)`);
    case 51:
      return st('mismatch', `${target}: the certificate does not match the address (curl exit 51)`);
    case 127:
      return st('unknown', 'curl is not installed');
    default:
      return st('unknown', `${target}: curl exit ${r.code}${why ? ` (${why})` : ''}`);
  }
}

/** The state of every target of the install plan for `inputs`, plus the handshake when a URL is given. */
export async function trustStatus(inputs: TrustInputs, opts: StatusOptions = {}): Promise<TargetStatus[]> {
  const pem = await fsp.readFile(inputs.caPem, 'utf8');
  const caDer = derOf(pem);
  if (!caDer) throw new Error(`${inputs.caPem} is not a PEM certificate`);
  // status also reports browsers when certutil is present, whatever the plan would do without it
  const plan = buildInstallPlan({ ...inputs, certutil: inputs.certutil ?? findOnPath('certutil', opts.env) !== null });
  const out: TargetStatus[] = [];
  for (const t of plan.targets) {
    const base = { id: t.id, kind: t.kind, label: t.label };
    if (t.kind === 'os-store') {
      const file = combine(await checkFiles(t, caDer));
      const family = distroFamily(inputs.distro);
      const spec = family ? osStoreSpec(family) : null;
      const bundle = spec ? (inputs.root ? path.posix.join(inputs.root, spec.bundle) : spec.bundle) : null;
      const v = bundle ? await verifyWithBundle(inputs.caPem, bundle, opts.env) : { state: 'unknown' as TrustState, detail: 'unknown bundle' };
      if (v.state === 'installed') {
        out.push({ ...base, state: 'installed', detail: file.state === 'installed' ? `${file.detail}; ${v.detail}` : `trusted (${v.detail}), though ${file.detail}` });
      } else if (v.state === 'missing' && file.state === 'installed') {
        out.push({ ...base, state: 'missing', detail: `${file.detail} is in place but ${v.detail}: run ${spec!.refresh.join(' ')}` });
      } else if (v.state === 'unknown') {
        out.push({ ...base, state: file.state, detail: `${file.detail} (${v.detail})` });
      } else {
        out.push({ ...base, state: file.state === 'mismatch' ? 'mismatch' : 'missing', detail: `${file.detail}; ${v.detail}` });
      }
    } else if (t.kind === 'docker' || t.kind === 'podman' || t.kind === 'containerd') {
      out.push({ ...base, ...combine(await checkFiles(t, caDer)) });
    } else if (t.kind === 'nss') {
      const profile = t.id.slice('nss:'.length);
      const r = await runCommand(['certutil', '-L', '-d', `sql:${profile}`, '-n', inputs.caName, '-a'], { env: opts.env, timeoutMs: 30_000 });
      if (r.code === 127) out.push({ ...base, state: 'unknown', detail: 'certutil is not installed' });
      else if (r.code !== 0) out.push({ ...base, state: 'missing', detail: `no certificate named ${inputs.caName} in ${profile}` });
      else {
        const der = derOf(r.stdout);
        out.push(der && der.equals(caDer) ? { ...base, state: 'installed', detail: `${inputs.caName} in ${profile}` } : { ...base, state: 'mismatch', detail: `${inputs.caName} in ${profile} is a different certificate` });
      }
    } else if (t.kind === 'keychain') {
      const r = await runCommand(['security', 'verify-cert', '-c', inputs.caPem], { env: opts.env, timeoutMs: 30_000 });
      out.push(r.code === 0 ? { ...base, state: 'installed', detail: 'trusted by the keychain' } : { ...base, state: r.code === 127 ? 'unknown' : 'missing', detail: (r.stdout + r.stderr).trim() || `security exit ${r.code}` });
    } else if (t.kind === 'windows-root') {
      if (!inputs.caSerial) out.push({ ...base, state: 'unknown', detail: 'the CA serial number is unknown' });
      else {
        const r = await runCommand(['certutil', '-verifystore', 'Root', inputs.caSerial], { env: opts.env, timeoutMs: 30_000 });
        out.push(r.code === 0 ? { ...base, state: 'installed', detail: 'in the Root store' } : { ...base, state: r.code === 127 ? 'unknown' : 'missing', detail: `not in the Root store (certutil exit ${r.code})` });
      }
    }
  }
  if (opts.url) out.push(await checkHandshake(opts.url, opts.env, opts.timeoutMs));
  return out;
}
