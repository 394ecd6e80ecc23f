// The API's one implementation, on top of the same RegistryStore and EventBus the OCI routes
// use. Both transports (IPC in main/ipc.ts, HTTP in ./http.ts) go through `dispatch`, which
// checks the untrusted arguments, runs the operation and turns every failure into an error
// from the registry's one error table.
import path from 'node:path';
import { nowIso, type AuthEvent, type EventBus, type LanyardEvent } from '../events/bus';
import { isRole, isRuleRole, roleAllows } from '../auth/roles';
import { UserError, type UserStore } from '../auth/users';
import type { SettingsStore } from '../settings';
import type { TlsMaterial } from '../tls/store';
import { caPemPath, detectTrustInputs, registryAddresses } from '../trust/detect';
import { installTrust, uninstallTrust, type ElevatedRunner, type RunResult } from '../trust/run';
import { trustStatus } from '../trust/status';
import { renderJoinCommand } from '../trust/join';
import { isLoopback } from '../config';
import { readRecentEvents } from '../events/log';
import { OciError, isOciError } from '../oci/errors';
import { checkName, parseReference } from '../oci/grammar';
import type { RegistryStore } from '../storage/store';
import {
  MAX_EVENTS,
  isOperationName,
  type ApiErrorInfo,
  type ApiEvent,
  type ApiEventType,
  type ApiResponse,
  type DescriptorSummary,
  type EventFilter,
  type InitialAdmin,
  type TlsInfo,
  type TrustOutcome,
  type TrustTarget,
  type RepoRole,
  type Session,
  type UserRole,
  type UserSummary,
  type ManifestDetails,
  type OperationArgs,
  type OperationName,
  type OperationResult,
  type Platform,
  type RegistryStatus,
  type RepositorySummary,
  type TagSummary,
} from './contract';

/** Who is calling, and through what. Filled in by the transport adapter. */
export interface CallContext {
  transport: 'ipc' | 'http';
  /** the registry's base URL as this caller reaches it */
  registryUrl: string;
  /** the authenticated Lanyard user; null while the registry has no auth */
  user: string | null;
}

export interface ApiServiceDeps {
  store: RegistryStore;
  bus: EventBus;
  version?: string;
  /** events kept in memory for recentEvents (seeded from the JSON-lines log) */
  eventBufferSize?: number;
  /** the user directory and settings; with `access` set, HTTP callers are Lanyard users */
  users?: UserStore;
  settings?: SettingsStore;
  /** present when access control is on (the registry's guard) */
  access?: unknown;
  /** the first admin's password when this start created it (handed out once over IPC) */
  initialAdmin?: InitialAdmin | null;
  /** the certificate being served, the port, and the address it listens on */
  tls?: () => TlsMaterial | null;
  port?: () => number;
  bindHost?: string;
  /** how the desktop app elevates (sudo-prompt); absent: directly when root, else refused */
  elevatedRunner?: ElevatedRunner;
}

/** Each operation of the contract, with the caller's context first. */
export type ServiceOperations = {
  [K in OperationName]: (call: CallContext, ...args: OperationArgs<K>) => Promise<OperationResult<K>>;
};

const shared = new WeakMap<RegistryStore, ApiService>();

export class ApiService implements ServiceOperations {
  readonly version: string;
  readonly startedAt = new Date();
  private readonly store: RegistryStore;
  private readonly events: ApiEvent[];
  private readonly capacity: number;
  private readonly unsubscribe: () => void;

  /** The service for a running registry: one instance per store, shared by both transports. */
  static for(deps: ApiServiceDeps): ApiService {
    let s = shared.get(deps.store);
    if (!s || s.bus !== deps.bus) {
      s = new ApiService(deps);
      shared.set(deps.store, s);
    }
    if (deps.elevatedRunner) s.elevatedRunner = deps.elevatedRunner; // the desktop app brings its own
    return s;
  }

  private readonly bus: EventBus;
  private readonly users: UserStore | null;
  private readonly settings: SettingsStore | null;
  private readonly authEnabled: boolean;
  private initialAdmin: InitialAdmin | null;
  private readonly tls: () => TlsMaterial | null;
  private readonly port: () => number;
  private readonly loopbackOnly: boolean;
  elevatedRunner: ElevatedRunner | undefined;

  constructor(deps: ApiServiceDeps) {
    this.store = deps.store;
    this.bus = deps.bus;
    this.users = deps.users ?? null;
    this.settings = deps.settings ?? null;
    this.authEnabled = !!deps.access;
    this.initialAdmin = deps.initialAdmin ?? null;
    this.tls = deps.tls ?? (() => null);
    this.port = deps.port ?? (() => 0);
    this.loopbackOnly = deps.bindHost !== undefined && isLoopback(deps.bindHost);
    this.elevatedRunner = deps.elevatedRunner;
    this.version = deps.version ?? packageVersion();
    this.capacity = Math.max(MAX_EVENTS, deps.eventBufferSize ?? 2 * MAX_EVENTS);
    // history from earlier runs (and this one so far), then everything new from the bus
    this.events = readRecentEvents(deps.store.paths.logsDir(), this.capacity).filter(isEventLike);
    this.unsubscribe = deps.bus.subscribe((e) => this.remember(e));
  }

  close(): void {
    this.unsubscribe();
    if (shared.get(this.store) === this) shared.delete(this.store);
  }

  private remember(e: ApiEvent): void {
    this.events.push(e);
    if (this.events.length > this.capacity + 256) this.events.splice(0, this.events.length - this.capacity);
  }

  // ---------------------------------------------------------------- operations

  async getStatus(call: CallContext): Promise<RegistryStatus> {
    return {
      url: call.registryUrl,
      host: hostOf(call.registryUrl),
      dataDir: this.store.paths.dataDir,
      version: this.version,
      deleteEnabled: this.store.deleteEnabled,
      uptime: Math.max(0, Math.floor((Date.now() - this.startedAt.getTime()) / 1000)),
      startedAt: this.startedAt.toISOString(),
    };
  }

  async listRepositories(call: CallContext): Promise<RepositorySummary[]> {
    const names = (await this.store.listRepositories()).filter((r) => this.mayPull(call, r));
    return mapLimit(names, 8, async (name) => ({ name, tagCount: await this.tagCount(name) }));
  }

  private async tagCount(repo: string): Promise<number> {
    try {
      return (await this.store.listTags(repo)).length;
    } catch (e) {
      if (isOciError(e) && e.code === 'NAME_UNKNOWN') return 0; // deleted meanwhile
      throw e;
    }
  }

  async listTags(call: CallContext, repository: string): Promise<TagSummary[]> {
    const repo = this.readable(call, checkName(repository));
    const tags = await this.store.listTags(repo);
    return mapLimit(tags, 16, async (name) => ({ name, digest: (await this.store.resolveTag(repo, name))?.value ?? null }));
  }

  async getManifest(call: CallContext, repository: string, reference: string): Promise<ManifestDetails> {
    const repo = this.readable(call, checkName(repository));
    const m = await this.store.getManifest(repo, parseReference(reference));
    let doc: unknown = null;
    try {
      doc = JSON.parse(m.body.toString('utf8'));
    } catch {
      /* not JSON (written by something else): show what we can */
    }
    const obj = isObject(doc) ? doc : {};
    const config = descriptor(obj.config);
    const layers = descriptorList(obj.layers);
    const manifests = descriptorList(obj.manifests);
    const kind: ManifestDetails['kind'] = config || Array.isArray(obj.layers) ? 'image' : Array.isArray(obj.manifests) ? 'index' : 'unknown';
    const referenced = kind === 'image' ? [...(config ? [config] : []), ...layers] : manifests;
    return {
      repository: repo,
      reference,
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.body.length,
      kind,
      config,
      layers,
      manifests,
      subject: descriptor(obj.subject),
      artifactType: typeof obj.artifactType === 'string' ? obj.artifactType : null,
      annotations: stringRecord(obj.annotations) ?? {},
      totalSize: referenced.reduce((sum, d) => sum + d.size, m.body.length),
      manifest: doc,
    };
  }

  async recentEvents(call: CallContext, limit: number, filter: EventFilter = {}): Promise<ApiEvent[]> {
    if (this.authEnabled) this.requireAdmin(call);
    const want = Math.min(MAX_EVENTS, Math.max(1, Math.floor(limit)));
    const types = filter.types ? new Set<ApiEventType>(filter.types) : null;
    const out: ApiEvent[] = [];
    for (let i = this.events.length - 1; i >= 0 && out.length < want; i--) {
      const e = this.events[i];
      if (types && !types.has(e.type)) continue;
      if (filter.registryOnly && e.type === 'request' && !isRegistryPath(e.path)) continue;
      out.push(e);
    }
    return out;
  }

  // ---------------------------------------------------------------- access

  /** The desktop owner over IPC, anyone while auth is off, or a user whose role allows it. */
  private mayPull(call: CallContext, repo: string): boolean {
    if (call.transport === 'ipc' || !this.authEnabled || !this.users) return true;
    if (call.user === null) return this.settings?.current().anonymousPull ?? false;
    return roleAllows(this.users.roleOn(call.user, repo), 'pull');
  }

  private readable(call: CallContext, repo: string): string {
    if (!this.mayPull(call, repo)) throw new OciError('DENIED', `no read access to ${repo}`, { repository: repo });
    return repo;
  }

  private isAdmin(call: CallContext): boolean {
    if (call.transport === 'ipc') return true; // the desktop app's owner
    if (!this.authEnabled || !this.users || call.user === null) return false;
    return this.users.get(call.user)?.role === 'admin';
  }

  private requireAdmin(call: CallContext): void {
    if (this.isAdmin(call)) return;
    if (!this.authEnabled && call.transport === 'http') {
      throw new OciError('DENIED', 'this registry runs without users: manage them with `lanyard users` on the registry machine');
    }
    throw new OciError('DENIED', 'only an admin may do this');
  }

  private userStore(): UserStore {
    if (!this.users) throw new OciError('UNSUPPORTED', 'user management is not available here');
    return this.users;
  }

  private audit(call: CallContext, e: Omit<AuthEvent, 'type' | 'time' | 'by'>): void {
    this.bus.emit({ type: 'auth', time: nowIso(), by: call.user ?? (call.transport === 'ipc' ? 'desktop' : null), ...e });
  }

  /** User-directory errors (bad name, last admin, ...) reach the caller as 400s with their message. */
  private async withUsers<T>(fn: (u: UserStore) => Promise<T> | T): Promise<T> {
    try {
      return await fn(this.userStore());
    } catch (e) {
      if (e instanceof UserError) throw new OciError('UNSUPPORTED', e.message, undefined, { status: 400 });
      throw e;
    }
  }

  async whoAmI(call: CallContext): Promise<Session> {
    const info = call.user && this.users ? this.users.get(call.user) : null;
    return {
      authEnabled: this.authEnabled,
      user: info ? info.name : null,
      role: info ? info.role : null,
      isAdmin: this.isAdmin(call),
      anonymousPull: this.settings?.current().anonymousPull ?? false,
    };
  }

  async listUsers(call: CallContext): Promise<UserSummary[]> {
    this.requireAdmin(call);
    return this.withUsers((u) => u.list());
  }

  async addUser(call: CallContext, name: string, password: string, role: UserRole): Promise<UserSummary> {
    this.requireAdmin(call);
    const info = await this.withUsers((u) => u.add(name, password, role));
    this.audit(call, { action: 'user.add', user: name, detail: { role } });
    return info;
  }

  async setPassword(call: CallContext, name: string, password: string): Promise<null> {
    if (!(call.transport === 'http' && this.authEnabled && call.user === name)) this.requireAdmin(call);
    await this.withUsers((u) => u.passwd(name, password));
    this.audit(call, { action: 'user.passwd', user: name });
    return null;
  }

  async setRole(call: CallContext, name: string, role: UserRole): Promise<UserSummary> {
    this.requireAdmin(call);
    const info = await this.withUsers((u) => u.setRole(name, role));
    this.audit(call, { action: 'user.role', user: name, detail: { role } });
    return info;
  }

  async setRepoRule(call: CallContext, name: string, pattern: string, role: RepoRole | null): Promise<UserSummary> {
    this.requireAdmin(call);
    const info = await this.withUsers((u) => u.setRepoRule(name, pattern, role));
    this.audit(call, { action: 'user.rule', user: name, detail: { pattern, role } });
    return info;
  }

  async removeUser(call: CallContext, name: string): Promise<null> {
    this.requireAdmin(call);
    await this.withUsers((u) => u.remove(name));
    this.audit(call, { action: 'user.remove', user: name });
    return null;
  }

  async setAnonymousPull(call: CallContext, enabled: boolean): Promise<Session> {
    this.requireAdmin(call);
    if (!this.settings) throw new OciError('UNSUPPORTED', 'settings are not available here');
    this.settings.update({ anonymousPull: enabled });
    return this.whoAmI(call);
  }

  async getTls(_call: CallContext): Promise<TlsInfo> {
    const m = this.tls();
    const port = this.port();
    const ips = m ? m.sans.ips.filter((ip) => !ip.startsWith('127.') && ip !== '::1') : [];
    const names = m ? m.sans.dnsNames.filter((n) => n !== 'localhost') : [];
    // listening on loopback only, other machines cannot reach it whatever the certificate says
    const addresses = this.loopbackOnly
      ? []
      : [...ips.filter((ip) => !ip.includes(':')), ...names, ...ips.filter((ip) => ip.includes(':')).map((ip) => `[${ip}]`)].map((h) => `${h}:${port}`);
    return {
      https: m !== null,
      mode: m?.mode ?? null,
      caFingerprint: m?.caFingerprint ?? null,
      names: m ? [...m.sans.dnsNames, ...m.sans.ips] : [],
      notAfter: m ? m.notAfter.toISOString() : null,
      addresses,
      joinCommand: m?.caFingerprint && addresses.length ? renderJoinCommand({ addr: addresses[0], fingerprint: m.caFingerprint }) : null,
    };
  }

  private async trustInputs() {
    const m = this.tls();
    if (!m?.ca) throw new OciError('UNSUPPORTED', 'this registry does not serve a certificate from Lanyard\'s CA (it runs plain HTTP, or with your own certificate)', undefined, { status: 409 });
    return detectTrustInputs({ caPem: caPemPath(this.store.paths.dataDir), addresses: registryAddresses('0.0.0.0', this.port()) });
  }

  async trustStatus(call: CallContext): Promise<TrustTarget[]> {
    this.requireAdmin(call);
    const m = this.tls();
    const url = m ? `https://localhost:${this.port()}` : undefined;
    const list = await trustStatus(await this.trustInputs(), { url });
    return list.map((t) => ({ label: t.label, state: t.state, detail: t.detail }));
  }

  async installTrust(call: CallContext): Promise<TrustOutcome> {
    if (call.transport !== 'ipc') throw new OciError('DENIED', 'trust is installed from the desktop app or `lanyard trust install` on this machine');
    return outcome(await installTrust(await this.trustInputs(), { dataDir: this.store.paths.dataDir, runner: this.elevatedRunner }));
  }

  async uninstallTrust(call: CallContext): Promise<TrustOutcome> {
    if (call.transport !== 'ipc') throw new OciError('DENIED', 'trust is removed from the desktop app or `lanyard trust uninstall` on this machine');
    const results = await uninstallTrust({ dataDir: this.store.paths.dataDir, runner: this.elevatedRunner });
    return { ok: results.every((r) => r.ok), targets: results.flatMap((r) => outcome(r).targets) };
  }

  async takeInitialAdmin(call: CallContext): Promise<InitialAdmin | null> {
    if (call.transport !== 'ipc') throw new OciError('DENIED', 'the initial password is shown only in the desktop app');
    const a = this.initialAdmin;
    this.initialAdmin = null;
    return a;
  }
}

// ------------------------------------------------------------------ dispatch

export interface DispatchOutcome {
  response: ApiResponse<unknown>;
  /** HTTP status for the HTTP transport */
  status: number;
  /** extra response headers an error asks for (e.g. WWW-Authenticate once auth exists) */
  headers: Record<string, string>;
}

/** Check the arguments, run the operation, wrap the answer. Never throws. */
export async function dispatch(service: ServiceOperations, operation: unknown, args: unknown, call: CallContext): Promise<DispatchOutcome> {
  try {
    const op = checkOperation(operation);
    const checked = checkArgs(op, args);
    const run = service[op] as (call: CallContext, ...a: unknown[]) => Promise<unknown>;
    const result = await run.call(service, call, ...checked);
    return { response: { ok: true, result }, status: 200, headers: {} };
  } catch (err) {
    return failure(err, operation);
  }
}

/** The outcome for a failed call: OCI errors as they are, anything else as a logged 500. */
export function failure(err: unknown, operation: unknown): DispatchOutcome {
  const e = toOciError(err, operation);
  return { response: { ok: false, error: errorInfo(e) }, status: e.status, headers: e.headers };
}

export function checkOperation(operation: unknown): OperationName {
  if (!isOperationName(operation)) {
    throw new OciError('UNSUPPORTED', 'unknown API operation', { operation: String(operation).slice(0, 100) }, { status: 404 });
  }
  return operation;
}

function errorInfo(e: OciError): ApiErrorInfo {
  return e.detail === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, detail: e.detail };
}

function toOciError(err: unknown, operation: unknown): OciError {
  if (isOciError(err)) return err;
  console.error(`lanyard: API ${String(operation).slice(0, 100)}: ${(err as Error)?.stack ?? err}`);
  return new OciError('UNKNOWN', 'internal error', undefined, { status: 500 });
}

// ------------------------------------------------------------------ argument checks

function badArgs(op: OperationName, why: string): OciError {
  return new OciError('UNSUPPORTED', `invalid arguments for ${op}: ${why}`, undefined, { status: 400 });
}

function arity(op: OperationName, args: unknown[], min: number, max: number): void {
  if (args.length < min || args.length > max) {
    throw badArgs(op, min === max ? `expected ${min} argument(s), got ${args.length}` : `expected ${min} to ${max} arguments, got ${args.length}`);
  }
}

function str(op: OperationName, v: unknown, name: string, max = 1024): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw badArgs(op, `${name} must be a non-empty string`);
  return v;
}

const EVENT_TYPES = ['request', 'server', 'registry', 'auth'] as const satisfies readonly ApiEventType[];
// Compile-time check that EVENT_TYPES lists every event type.
const EVENT_TYPES_COMPLETE: [Exclude<ApiEventType, (typeof EVENT_TYPES)[number]>] extends [never] ? true : false = true;
void EVENT_TYPES_COMPLETE;

function eventFilter(op: OperationName, v: unknown): EventFilter | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw badArgs(op, 'filter must be an object');
  const f: EventFilter = {};
  for (const key of Object.keys(v)) if (key !== 'types' && key !== 'registryOnly') throw badArgs(op, `unknown filter field ${key.slice(0, 50)}`);
  if (v.types !== undefined) {
    if (!Array.isArray(v.types) || !v.types.every((t) => (EVENT_TYPES as readonly unknown[]).includes(t))) {
      throw badArgs(op, `filter.types must list event types (${EVENT_TYPES.join(', ')})`);
    }
    f.types = v.types as ApiEventType[];
  }
  if (v.registryOnly !== undefined) {
    if (typeof v.registryOnly !== 'boolean') throw badArgs(op, 'filter.registryOnly must be a boolean');
    f.registryOnly = v.registryOnly;
  }
  return f;
}

/** Runtime shape checks for each operation's arguments: they come from a renderer or the network. */
const ARG_CHECKS: { [K in OperationName]: (args: unknown[]) => OperationArgs<K> } = {
  getStatus: (a) => (arity('getStatus', a, 0, 0), []),
  listRepositories: (a) => (arity('listRepositories', a, 0, 0), []),
  listTags: (a) => (arity('listTags', a, 1, 1), [str('listTags', a[0], 'repository')]),
  getManifest: (a) => (arity('getManifest', a, 2, 2), [str('getManifest', a[0], 'repository'), str('getManifest', a[1], 'reference')]),
  recentEvents: (a) => {
    arity('recentEvents', a, 1, 2);
    if (typeof a[0] !== 'number' || !Number.isFinite(a[0])) throw badArgs('recentEvents', 'limit must be a number');
    const filter = eventFilter('recentEvents', a[1]);
    return filter ? [a[0], filter] : [a[0]];
  },
  whoAmI: (a) => (arity('whoAmI', a, 0, 0), []),
  listUsers: (a) => (arity('listUsers', a, 0, 0), []),
  addUser: (a) => (arity('addUser', a, 3, 3), [str('addUser', a[0], 'name', 64), str('addUser', a[1], 'password', 200), userRole('addUser', a[2])]),
  setPassword: (a) => (arity('setPassword', a, 2, 2), [str('setPassword', a[0], 'name', 64), str('setPassword', a[1], 'password', 200)]),
  setRole: (a) => (arity('setRole', a, 2, 2), [str('setRole', a[0], 'name', 64), userRole('setRole', a[1])]),
  setRepoRule: (a) => {
    arity('setRepoRule', a, 3, 3);
    if (a[2] !== null && !isRuleRole(a[2])) throw badArgs('setRepoRule', 'role must be admin, push, pull, none or null');
    return [str('setRepoRule', a[0], 'name', 64), str('setRepoRule', a[1], 'pattern', 255), a[2] as RepoRole | null];
  },
  removeUser: (a) => (arity('removeUser', a, 1, 1), [str('removeUser', a[0], 'name', 64)]),
  setAnonymousPull: (a) => {
    arity('setAnonymousPull', a, 1, 1);
    if (typeof a[0] !== 'boolean') throw badArgs('setAnonymousPull', 'enabled must be a boolean');
    return [a[0]];
  },
  takeInitialAdmin: (a) => (arity('takeInitialAdmin', a, 0, 0), []),
  getTls: (a) => (arity('getTls', a, 0, 0), []),
  trustStatus: (a) => (arity('trustStatus', a, 0, 0), []),
  installTrust: (a) => (arity('installTrust', a, 0, 0), []),
  uninstallTrust: (a) => (arity('uninstallTrust', a, 0, 0), []),
};

function outcome(r: RunResult): TrustOutcome {
  const targets = r.targets.map((t) => ({ label: t.label, state: t.state, detail: t.reason ?? '' }));
  if (r.elevation) targets.push({ label: 'administrator rights', state: 'not-run', detail: 'needs administrator rights: run `lanyard trust install` in a terminal' });
  return { ok: r.ok, targets };
}

function userRole(op: OperationName, v: unknown): UserRole {
  if (!isRole(v)) throw badArgs(op, 'role must be admin, push or pull');
  return v;
}

export function checkArgs<K extends OperationName>(op: K, args: unknown): OperationArgs<K> {
  if (args === undefined || args === null) args = [];
  if (!Array.isArray(args)) throw badArgs(op, 'args must be an array');
  return (ARG_CHECKS[op] as (a: unknown[]) => OperationArgs<K>)(args);
}

// ------------------------------------------------------------------ helpers

function isEventLike(e: unknown): e is LanyardEvent {
  return isObject(e) && typeof e.type === 'string' && typeof e.time === 'string';
}

function isRegistryPath(p: string): boolean {
  return p === '/v2' || p.startsWith('/v2/');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringRecord(v: unknown): Record<string, string> | undefined {
  if (!isObject(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function descriptor(v: unknown): DescriptorSummary | null {
  if (!isObject(v) || typeof v.digest !== 'string') return null;
  const d: DescriptorSummary = {
    mediaType: typeof v.mediaType === 'string' ? v.mediaType : '',
    digest: v.digest,
    size: typeof v.size === 'number' && Number.isFinite(v.size) && v.size >= 0 ? v.size : 0,
  };
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  if (isObject(v.platform) && typeof v.platform.os === 'string' && typeof v.platform.architecture === 'string') {
    const p: Platform = { os: v.platform.os, architecture: v.platform.architecture };
    if (typeof v.platform.variant === 'string') p.variant = v.platform.variant;
    d.platform = p;
  }
  const annotations = stringRecord(v.annotations);
  if (annotations && Object.keys(annotations).length) d.annotations = annotations;
  return d;
}

function descriptorList(v: unknown): DescriptorSummary[] {
  return Array.isArray(v) ? v.map(descriptor).filter((d): d is DescriptorSummary => d !== null) : [];
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function packageVersion(): string {
  try {
    // package.json sits three levels above dist/registry/api
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(path.join(__dirname, '..', '..', '..', 'package.json')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}
