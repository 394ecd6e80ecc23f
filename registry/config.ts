// Configuration for `lanyard serve`: command-line flags, then registry:2's environment
// variables (so `docker run -e REGISTRY_...` setups carry over), then per-user defaults.
import os from 'node:os';
import path from 'node:path';
import { providedFromEnv, type ProvidedFiles } from './tls/store';

export interface ServeConfig {
  host: string;
  port: number;
  dataDir: string;
  deleteEnabled: boolean;
  auth: AuthConfig;
  tls: TlsConfig;
  /** advertise the registry on the LAN with mDNS (bonjour) */
  mdns: boolean;
  uploadPurging: UploadPurging;
}

/** registry:2's storage.maintenance.uploadpurging: abandoned uploads are removed. */
export interface UploadPurging {
  enabled: boolean;
  /** an upload untouched for this long is removed (registry:2: age, 168h) */
  ageMs: number;
  /** how often to look (registry:2: interval, 24h); also once at start-up */
  intervalMs: number;
}

export interface TlsConfig {
  /** on: HTTPS; off: plain HTTP (--insecure-http); auto: HTTPS beyond loopback */
  mode: 'on' | 'off' | 'auto';
  /** bring-your-own certificate (REGISTRY_HTTP_TLS_CERTIFICATE / _KEY): nothing is generated */
  provided: ProvidedFiles | null;
  /** more names for the certificate (REGISTRY_HTTP_HOST, the bind address) */
  extraNames: string[];
}

export interface AuthConfig {
  /** on: always; off: never (--no-auth); auto: on beyond loopback or when users exist */
  mode: 'on' | 'off' | 'auto';
  realm: string;
  htpasswd: string;
  /** force anonymous pull on for this run (else settings.json decides) */
  anonymousPull?: boolean;
}

export interface ServeFlags {
  addr?: string;
  data?: string;
  deleteEnabled?: boolean;
  auth?: boolean;
  htpasswd?: string;
  realm?: string;
  anonymousPull?: boolean;
  /** true: --tls, false: --insecure-http */
  tls?: boolean;
  mdns?: boolean;
}

export const DEFAULT_PORT = 5000;
export const DEFAULT_HOST = '127.0.0.1';

/** Per-user data directory: XDG on Linux, Application Support on macOS, %APPDATA% on Windows. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = os.homedir()): string {
  if (platform === 'win32') return path.win32.join(env.APPDATA || path.win32.join(home, 'AppData', 'Roaming'), 'Lanyard');
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support', 'Lanyard');
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(home, '.local', 'share');
  return path.join(xdg, 'lanyard');
}

/** "HOST:PORT", ":PORT", "[v6]:PORT" or "PORT" → host and port (registry:2's REGISTRY_HTTP_ADDR forms). */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(addr.trim()) ?? /^()()(\d{1,5})$/.exec(addr.trim());
  if (!m) throw new Error(`invalid address "${addr}": use HOST:PORT, :PORT or [IPv6]:PORT`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in "${addr}"`);
  const host = m[1] || m[2] || '0.0.0.0';
  return { host, port };
}

/** A Go duration as registry:2's configuration takes it: "168h", "1h30m", "90s", "500ms". */
export function parseGoDuration(v: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const t = v.trim();
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(t)) throw new Error(`invalid duration "${v}": use e.g. 168h, 1h30m, 90s`);
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * units[m[2]];
  return ms;
}

function envDuration(name: string, env: NodeJS.ProcessEnv, dflt: number): number {
  const v = env[name];
  if (v === undefined || v.trim() === '') return dflt;
  const ms = parseGoDuration(v);
  if (ms <= 0) throw new Error(`${name} must be more than zero`);
  return ms;
}

function envBool(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  return /^(1|true|yes|on)$/i.test(v);
}

export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? env.REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY ?? defaultDataDir(env));
}

/** Where the users live: <data>/auth/htpasswd (or REGISTRY_AUTH_HTPASSWD_PATH), roles.json beside it. */
export function authPaths(dataDir: string, htpasswdFlag?: string, env: NodeJS.ProcessEnv = process.env): { htpasswd: string; roles: string; tokenKey: string } {
  const htpasswd = path.resolve(htpasswdFlag ?? env.REGISTRY_AUTH_HTPASSWD_PATH ?? path.join(dataDir, 'auth', 'htpasswd'));
  return { htpasswd, roles: path.join(path.dirname(htpasswd), 'roles.json'), tokenKey: path.join(dataDir, 'auth', 'token.key') };
}

export function resolveServeConfig(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const { host, port } = parseAddr(flags.addr ?? env.REGISTRY_HTTP_ADDR ?? `${DEFAULT_HOST}:${DEFAULT_PORT}`);
  const dataDir = resolveDataDir(flags.data, env);
  const deleteEnabled = flags.deleteEnabled ?? envBool(env.REGISTRY_STORAGE_DELETE_ENABLED) ?? false;
  const envAuth = env.REGISTRY_AUTH?.trim().toLowerCase();
  if (envAuth && envAuth !== 'htpasswd' && flags.auth === undefined) {
    throw new Error(`REGISTRY_AUTH=${env.REGISTRY_AUTH} is not supported: Lanyard uses htpasswd users (REGISTRY_AUTH=htpasswd)`);
  }
  const mode = flags.auth === true ? 'on' : flags.auth === false ? 'off' : envAuth === 'htpasswd' ? 'on' : 'auto';
  const auth: AuthConfig = {
    mode,
    realm: flags.realm ?? env.REGISTRY_AUTH_HTPASSWD_REALM ?? 'Lanyard Registry',
    htpasswd: authPaths(dataDir, flags.htpasswd, env).htpasswd,
  };
  if (flags.anonymousPull !== undefined) auth.anonymousPull = flags.anonymousPull;
  const provided = providedFromEnv(env);
  const tls: TlsConfig = {
    mode: provided ? 'on' : flags.tls === true ? 'on' : flags.tls === false ? 'off' : 'auto',
    provided,
    extraNames: [host, env.REGISTRY_HTTP_HOST ?? ''].filter((n) => n && n !== '0.0.0.0' && n !== '::'),
  };
  const mdns = flags.mdns ?? envBool(env.LANYARD_MDNS) ?? true;
  const uploadPurging: UploadPurging = {
    enabled: envBool(env.REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED) ?? true,
    ageMs: envDuration('REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE', env, 168 * 3_600_000),
    intervalMs: envDuration('REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL', env, 24 * 3_600_000),
  };
  return { host, port, dataDir, deleteEnabled, auth, tls, mdns, uploadPurging };
}

/** Whether a configuration serves HTTPS. */
export function tlsEnabled(cfg: Pick<ServeConfig, 'host' | 'tls'>): boolean {
  return cfg.tls.mode === 'on' || (cfg.tls.mode === 'auto' && !isLoopback(cfg.host));
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
