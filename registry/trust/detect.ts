// Gathering the real inputs of a trust plan on this machine: the distribution
// (/etc/os-release), containerd's config_path, NSS databases (Chromium's ~/.pki/nssdb,
// Firefox profiles), whether NSS certutil is on PATH, the CA's fingerprint and serial, and
// the addresses clients use to reach the registry.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkAddress, type Distro, type Platform, type TrustInputs } from './plan';

/** Where the registry's CA lives (written by registry/tls). */
export function caPemPath(dataDir: string): string {
  return path.join(dataDir, 'tls', 'ca.pem');
}

/** Where the trust bookkeeping lives. */
export function trustDir(dataDir: string): string {
  return path.join(dataDir, 'trust');
}

export interface CaInfo {
  /** the certificate, PEM */
  pem: string;
  /** SHA-256 of the DER, lower-case hex without separators */
  fingerprint: string;
  /** the same as AB:CD:... (how browsers and openssl show it) */
  fingerprintColon: string;
  /** SHA-1, hex (macOS keychain) */
  sha1: string;
  /** serial number, lower-case hex */
  serial: string;
  subject: string;
  /** lanyard-<first 16 hex digits of the fingerprint> */
  caName: string;
}

/** Facts about the first certificate of a PEM text; throws when there is none. */
export function caInfoFromPem(pemText: string): CaInfo {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pemText);
  if (!m) throw new Error('no PEM certificate found');
  const cert = new crypto.X509Certificate(m[0]);
  const fingerprint = crypto.createHash('sha256').update(cert.raw).digest('hex');
  return {
    pem: m[0] + '\n',
    fingerprint,
    fingerprintColon: colonHex(fingerprint),
    sha1: crypto.createHash('sha1').update(cert.raw).digest('hex'),
    serial: cert.serialNumber.toLowerCase(),
    subject: cert.subject,
    caName: caNameFor(fingerprint),
  };
}

export function colonHex(hex: string): string {
  return (hex.toUpperCase().match(/../g) ?? []).join(':');
}

export function caNameFor(fingerprintHex: string): string {
  return `lanyard-${fingerprintHex.replace(/[^0-9a-fA-F]/g, '').toLowerCase().slice(0, 16)}`;
}

/** ID and ID_LIKE of an os-release file. */
export function parseOsRelease(text: string): Distro {
  const vars: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2].trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    vars[m[1]] = v.replace(/\\(.)/g, '$1');
  }
  const words = (s: string | undefined) => (s ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  return { id: words(vars.ID)[0] ?? '', idLike: words(vars.ID_LIKE) };
}

/**
 * containerd's registry config_path from config.toml (version 2:
 * [plugins."io.containerd.grpc.v1.cri".registry], version 3:
 * [plugins.'io.containerd.cri.v1.images'.registry]); null when unset or empty.
 */
export function parseContainerdConfigPath(toml: string): string | null {
  let table = '';
  for (const raw of toml.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[\[?\s*(.+?)\s*\]\]?\s*(?:#.*)?$/.exec(line);
    if (header) {
      table = unquoteDotted(header[1]);
      continue;
    }
    const kv = /^((?:"[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*')/.exec(line);
    if (!kv) continue;
    const key = [table, unquoteDotted(kv[1])].filter(Boolean).join('.');
    if (!/(^|\.)registry\.config_path$/.test(key)) continue;
    const value = kv[2].startsWith('"') ? kv[2].slice(1, -1).replace(/\\(.)/g, '$1') : kv[2].slice(1, -1);
    return value.trim() === '' ? null : value.trim();
  }
  return null;
}

function unquoteDotted(s: string): string {
  const parts: string[] = [];
  const re = /\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(?:\.|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) && m[0] !== '') parts.push(m[1] ?? m[2] ?? m[3]);
  return parts.join('.');
}

/** NSS databases (sql format: cert9.db) of the user: Chromium's and every Firefox profile's. */
export async function findNssProfiles(home: string, platform: Platform): Promise<string[]> {
  const candidates: string[] = [];
  const firefoxRoots: string[] = [];
  if (platform === 'linux') {
    candidates.push(path.join(home, '.pki', 'nssdb'), path.join(home, 'snap', 'chromium', 'current', '.pki', 'nssdb'));
    firefoxRoots.push(
      path.join(home, '.mozilla', 'firefox'),
      path.join(home, 'snap', 'firefox', 'common', '.mozilla', 'firefox'),
      path.join(home, '.var', 'app', 'org.mozilla.firefox', '.mozilla', 'firefox'),
    );
  } else if (platform === 'darwin') {
    firefoxRoots.push(path.join(home, 'Library', 'Application Support', 'Firefox', 'Profiles'));
  }
  for (const r of firefoxRoots) {
    let entries: fs.Dirent[] = [];
    try {
      entries = await fsp.readdir(r, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) if (e.isDirectory()) candidates.push(path.join(r, e.name));
  }
  const found: string[] = [];
  for (const c of candidates) {
    try {
      if ((await fsp.stat(path.join(c, 'cert9.db'))).isFile()) found.push(c);
    } catch {
      /* not an NSS sql database */
    }
  }
  return found;
}

/** The full path of `cmd` on PATH, or null. */
export function findOnPath(cmd: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const p = path.join(dir, cmd + ext);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        if (fs.statSync(p).isFile()) return p;
      } catch {
        /* next */
      }
    }
  }
  return null;
}

export interface AddressOptions {
  hostname?: string;
  interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  /** include localhost and 127.0.0.1 (for this machine; not for other machines) */
  loopback?: boolean;
}

function isWildcard(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

/**
 * The HOST:PORT names clients use for a registry listening on `host`:`port`. A wildcard
 * listener is reachable as hostname:port, hostname.local:port and every LAN IPv4:port (plus
 * localhost and 127.0.0.1 unless loopback is false); a loopback listener only on this
 * machine; a specific host as itself.
 */
export function registryAddresses(host: string, port: number, opts: AddressOptions = {}): string[] {
  const loopback = opts.loopback ?? true;
  const out: string[] = [];
  const add = (h: string) => {
    const a = `${h}:${port}`;
    try {
      checkAddress(a);
    } catch {
      return;
    }
    if (!out.includes(a)) out.push(a);
  };
  if (isLoopbackHost(host)) {
    if (loopback) {
      add('localhost');
      add(host.replace(/^\[|\]$/g, '') === '::1' ? '[::1]' : host);
    }
    return out;
  }
  if (!isWildcard(host)) {
    add(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
    return out;
  }
  const hostname = (opts.hostname ?? os.hostname()).trim().toLowerCase().replace(/\.$/, '');
  if (hostname && hostname !== 'localhost') {
    add(hostname);
    if (!hostname.includes('.')) add(`${hostname}.local`);
  }
  const ifaces = opts.interfaces ?? os.networkInterfaces();
  for (const name of Object.keys(ifaces).sort()) {
    for (const i of ifaces[name] ?? []) {
      if (i.internal || i.family !== 'IPv4') continue;
      add(i.address);
    }
  }
  if (loopback) {
    add('localhost');
    add('127.0.0.1');
  }
  return out;
}

export interface DetectOptions {
  /** the CA to install (default: <data>/tls/ca.pem is the caller's business) */
  caPem: string;
  addresses: readonly string[];
  /** fake root for /etc lookups (tests) */
  root?: string;
  home?: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
}

async function readOptional(p: string): Promise<string | null> {
  try {
    return await fsp.readFile(p, 'utf8');
  } catch {
    return null;
  }
}

/** The inputs of a trust plan for this machine. */
export async function detectTrustInputs(opts: DetectOptions): Promise<TrustInputs> {
  const platform = opts.platform ?? process.platform;
  if (platform !== 'linux' && platform !== 'darwin' && platform !== 'win32') throw new Error(`unsupported platform ${platform}`);
  const env = opts.env ?? process.env;
  const root = opts.root ?? '/';
  const ca = caInfoFromPem(await fsp.readFile(opts.caPem, 'utf8'));
  const inputs: TrustInputs = {
    platform,
    caPem: opts.caPem,
    caName: ca.caName,
    caSerial: ca.serial,
    caSha1: ca.sha1,
    addresses: [...opts.addresses],
  };
  if (opts.root) inputs.root = opts.root;
  if (platform === 'linux') {
    const osr = (await readOptional(path.join(root, 'etc', 'os-release'))) ?? (await readOptional(path.join(root, 'usr', 'lib', 'os-release')));
    inputs.distro = osr ? parseOsRelease(osr) : null;
    const toml = await readOptional(path.join(root, 'etc', 'containerd', 'config.toml'));
    inputs.containerdConfigPath = toml ? parseContainerdConfigPath(toml) : null;
  }
  if (platform !== 'win32') {
    inputs.nssProfiles = await findNssProfiles(opts.home ?? os.homedir(), platform);
    inputs.certutil = findOnPath('certutil', env) !== null;
  }
  return inputs;
}
