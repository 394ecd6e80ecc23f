// The one typed API between Lanyard's UI and the registry core: operation names, argument
// and result types, and the answer envelope. Two transports carry it — Electron IPC
// (main/ipc.ts + main/preload.ts) and JSON over HTTP (./http.ts) — and both call the one
// implementation in ./service.ts.
//
// This file is shared with the renderer and the preload, so it holds types and a few
// plain constants only: no Node, no Electron, no React, no imports with runtime effects.
import type { ErrorCode } from '../oci/errors';
import type { AuthEvent, LanyardEvent, RegistryChangeEvent, RequestEvent, ServerEvent } from '../events/types';

// ------------------------------------------------------------------ results

export interface RegistryStatus {
  /** Base URL of the registry as the caller should use it, e.g. http://192.168.1.20:5000 */
  url: string;
  /** host:port part of `url`: what image names start with (`<host>/<repo>:<tag>`) */
  host: string;
  dataDir: string;
  version: string;
  deleteEnabled: boolean;
  /** seconds since the registry started */
  uptime: number;
  /** RFC 3339 */
  startedAt: string;
}

export interface RepositorySummary {
  name: string;
  tagCount: number;
}

export interface TagSummary {
  name: string;
  /** digest the tag points at, or null when its link is missing or broken */
  digest: string | null;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface DescriptorSummary {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ManifestDetails {
  repository: string;
  /** what was asked for: a tag or a digest */
  reference: string;
  digest: string;
  mediaType: string;
  /** bytes of the manifest itself */
  size: number;
  kind: 'image' | 'index' | 'unknown';
  /** image manifests: the config blob */
  config: DescriptorSummary | null;
  /** image manifests: the layers, in order */
  layers: DescriptorSummary[];
  /** indexes / manifest lists: the child manifests */
  manifests: DescriptorSummary[];
  subject: DescriptorSummary | null;
  artifactType: string | null;
  annotations: Record<string, string>;
  /** the manifest plus everything it references directly (config + layers, or child manifests) */
  totalSize: number;
  /** the manifest as parsed JSON (null if the stored body is not JSON) */
  manifest: unknown;
}

// Events as the API hands them out: the registry's own event types (types only, no Node).
export type ApiRequestEvent = RequestEvent;
export type ApiServerEvent = ServerEvent;
export type ApiRegistryEvent = RegistryChangeEvent;
/** Access-control audit events (never carry secrets). */
export type ApiAuthEvent = AuthEvent;
export type ApiEvent = LanyardEvent;
export type ApiEventType = ApiEvent['type'];

export interface EventFilter {
  /** only these event types (default: all) */
  types?: ApiEventType[];
  /** leave out requests that are not registry traffic (/v2/...), e.g. the UI's own calls */
  registryOnly?: boolean;
}

export const MAX_EVENTS = 1000;

export type UserRole = 'admin' | 'push' | 'pull';
/** a role on matching repositories; `none` hides them */
export type RepoRole = UserRole | 'none';

export interface UserSummary {
  name: string;
  role: UserRole;
  /** repository pattern (e.g. team/*) → role there; the most specific match wins */
  repos: Record<string, RepoRole>;
}

/** Who the caller is, as far as the UI needs to know. */
export interface Session {
  authEnabled: boolean;
  /** null: anonymous, or the desktop app's owner over IPC */
  user: string | null;
  role: UserRole | null;
  /** may manage users and settings */
  isAdmin: boolean;
  anonymousPull: boolean;
}

/** HTTPS and how other machines come to trust it. */
export interface TlsInfo {
  https: boolean;
  /** managed: Lanyard's own CA; provided: REGISTRY_HTTP_TLS_CERTIFICATE */
  mode: 'managed' | 'provided' | null;
  /** SHA-256 of the CA, "AB:CD:…" */
  caFingerprint: string | null;
  /** names and addresses in the server certificate */
  names: string[];
  /** RFC 3339 */
  notAfter: string | null;
  /** HOST:PORT addresses other machines can use (IPs first) */
  addresses: string[];
  /** the pinned one-line join command for another machine (null without Lanyard's CA) */
  joinCommand: string | null;
}

export interface TrustTarget {
  label: string;
  /** status: installed | missing | mismatch | unknown; install/uninstall: ok | failed | not-run */
  state: string;
  detail: string;
}

export interface TrustOutcome {
  ok: boolean;
  targets: TrustTarget[];
}

export interface InitialAdmin {
  name: string;
  password: string;
}

// ------------------------------------------------------------------ operations

/**
 * Every operation, one method each. Adding an operation: declare it here, implement it in
 * ApiService (service.ts), add its argument check in service.ts's table, and add its line
 * to the preload (main/preload.ts); the compiler points at each place that is missing.
 */
export interface LanyardApi {
  getStatus(): Promise<RegistryStatus>;
  listRepositories(): Promise<RepositorySummary[]>;
  listTags(repository: string): Promise<TagSummary[]>;
  getManifest(repository: string, reference: string): Promise<ManifestDetails>;
  /** newest first; `limit` is clamped to 1..MAX_EVENTS (admins only when auth is on) */
  recentEvents(limit: number, filter?: EventFilter): Promise<ApiEvent[]>;
  whoAmI(): Promise<Session>;
  // user management: admins (or the desktop owner over IPC); setPassword also for oneself
  listUsers(): Promise<UserSummary[]>;
  addUser(name: string, password: string, role: UserRole): Promise<UserSummary>;
  setPassword(name: string, password: string): Promise<null>;
  setRole(name: string, role: UserRole): Promise<UserSummary>;
  setRepoRule(name: string, pattern: string, role: RepoRole | null): Promise<UserSummary>;
  removeUser(name: string): Promise<null>;
  setAnonymousPull(enabled: boolean): Promise<Session>;
  /** the first admin's generated password, handed out once, over IPC only */
  takeInitialAdmin(): Promise<InitialAdmin | null>;
  getTls(): Promise<TlsInfo>;
  /** whether this machine trusts Lanyard's CA, target by target (admins, or the desktop owner) */
  trustStatus(): Promise<TrustTarget[]>;
  /** install / remove the CA on this machine: the desktop app only (one elevation prompt) */
  installTrust(): Promise<TrustOutcome>;
  uninstallTrust(): Promise<TrustOutcome>;
}

export type OperationName = keyof LanyardApi;
export type OperationArgs<K extends OperationName> = Parameters<LanyardApi[K]>;
export type OperationResult<K extends OperationName> = Awaited<ReturnType<LanyardApi[K]>>;

export const OPERATION_NAMES = [
  'getStatus',
  'listRepositories',
  'listTags',
  'getManifest',
  'recentEvents',
  'whoAmI',
  'listUsers',
  'addUser',
  'setPassword',
  'setRole',
  'setRepoRule',
  'removeUser',
  'setAnonymousPull',
  'takeInitialAdmin',
  'getTls',
  'trustStatus',
  'installTrust',
  'uninstallTrust',
] as const satisfies readonly OperationName[];

// Compile-time check that OPERATION_NAMES lists every operation.
type Unlisted = Exclude<OperationName, (typeof OPERATION_NAMES)[number]>;
export const OPERATION_NAMES_COMPLETE: [Unlisted] extends [never] ? true : Unlisted = true;

export function isOperationName(v: unknown): v is OperationName {
  return typeof v === 'string' && (OPERATION_NAMES as readonly string[]).includes(v);
}

// ------------------------------------------------------------------ answers

/** Codes come from the registry's one error table (registry/oci/errors.ts). */
export interface ApiErrorInfo {
  code: ErrorCode;
  message: string;
  detail?: unknown;
}

/** What both transports deliver for every call. */
export type ApiResponse<T> = { ok: true; result: T } | { ok: false; error: ApiErrorInfo };

// ------------------------------------------------------------------ transports

/** The preload's `window.lanyard`: one function per operation, answering envelopes. */
export type LanyardBridge = {
  readonly [K in OperationName]: (...args: OperationArgs<K>) => Promise<ApiResponse<OperationResult<K>>>;
};

/** IPC: one channel per operation, `lanyard:<operation>`, used with ipcMain.handle / ipcRenderer.invoke. */
export type IpcChannel<K extends OperationName = OperationName> = `lanyard:${K}`;
export function ipcChannel<K extends OperationName>(op: K): IpcChannel<K> {
  return `lanyard:${op}`;
}

/**
 * HTTP: `POST /lanyard/api/<operation>` with `Content-Type: application/json` and body
 * `{"args": [...]}`; the answer is the ApiResponse envelope (non-2xx status on errors).
 */
export const HTTP_API_PREFIX = '/lanyard/api/';
export function httpApiPath(op: OperationName): string {
  return HTTP_API_PREFIX + op;
}
