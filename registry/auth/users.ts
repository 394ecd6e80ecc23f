// The user directory: htpasswd (names + bcrypt hashes) and roles.json beside it, both
// re-read when they change on disk. Used by the server (verify, roles), the CLI and the API.
import path from 'node:path';
import crypto from 'node:crypto';
import { OciError } from '../oci/errors';
import { WatchedFile, formatHtpasswd, hashPassword, isValidUserName, parseHtpasswd, verifyPassword } from './htpasswd';
import { DEFAULT_ROLE, Role, RolesDoc, RuleRole, UserRoles, effectiveRole, isRole, isRuleRole, isValidPattern, parseRoles } from './roles';

export interface UserInfo {
  name: string;
  role: Role;
  repos: Record<string, RuleRole>;
}

export class UserError extends Error {}

// A real bcrypt hash (of a random password) to compare against for unknown users, so a
// wrong user name costs the same time as a wrong password.
const DUMMY_HASH = '$2y$10$CwTycUXWue0Thq9StjUM0uJ8.s4CZ5uLWrWE1EO5cxIRWkJXmGhyG';

export class UserStore {
  private readonly htpasswd: WatchedFile<Map<string, string>>;
  private readonly roles: WatchedFile<RolesDoc>;
  /** Changes whenever either file changes: caches keyed on it drop at once. */
  generation = 0;

  constructor(readonly htpasswdPath: string, readonly rolesPath = path.join(path.dirname(htpasswdPath), 'roles.json')) {
    const bump = () => {
      this.generation++;
    };
    this.htpasswd = new WatchedFile(htpasswdPath, (t) => parseHtpasswd(t ?? '').users, bump);
    this.roles = new WatchedFile(rolesPath, parseRoles, bump);
  }

  /** Re-read the files if they changed; returns the current generation. */
  refresh(): number {
    this.htpasswd.current();
    this.roles.current();
    return this.generation;
  }

  fileExists(): boolean {
    return this.htpasswd.exists();
  }

  hasUsers(): boolean {
    return this.htpasswd.current().size > 0;
  }

  private entry(name: string): UserRoles | undefined {
    return this.roles.current().users[name];
  }

  list(): UserInfo[] {
    const users = this.htpasswd.current();
    return [...users.keys()].sort().map((name) => this.info(name));
  }

  private info(name: string): UserInfo {
    const e = this.entry(name);
    return { name, role: e?.role ?? DEFAULT_ROLE, repos: { ...(e?.repos ?? {}) } };
  }

  get(name: string): UserInfo | null {
    return this.htpasswd.current().has(name) ? this.info(name) : null;
  }

  exists(name: string): boolean {
    return this.htpasswd.current().has(name);
  }

  /** A short fingerprint of the user's current hash (tokens carry it; a new password revokes them). */
  hashFingerprint(name: string): string | null {
    const h = this.htpasswd.current().get(name);
    return h ? crypto.createHash('sha256').update(h).digest('base64url').slice(0, 16) : null;
  }

  roleOn(name: string, repo: string | null): RuleRole {
    return effectiveRole(this.entry(name), repo);
  }

  /** Check a password; unknown users take as long as known ones. */
  async verify(name: string, password: string): Promise<boolean> {
    const hash = this.htpasswd.current().get(name);
    const ok = await verifyPassword(password, hash ?? DUMMY_HASH);
    return ok && hash !== undefined;
  }

  private admins(): string[] {
    return this.list().filter((u) => u.role === 'admin').map((u) => u.name);
  }

  private saveUsers(users: Map<string, string>): void {
    this.htpasswd.write(formatHtpasswd(users));
  }

  private saveRoles(doc: RolesDoc): void {
    this.roles.write(JSON.stringify(doc, null, 2) + '\n');
  }

  async add(name: string, password: string, role: Role = DEFAULT_ROLE): Promise<UserInfo> {
    if (!isValidUserName(name)) throw new UserError(`invalid user name "${name}": letters, digits, '.', '_', '@', '-', up to 64 characters`);
    if (!isRole(role)) throw new UserError(`unknown role "${role}": use admin, push or pull`);
    checkPassword(password);
    const users = new Map(this.htpasswd.current());
    if (users.has(name)) throw new UserError(`user "${name}" already exists`);
    users.set(name, await hashPassword(password));
    this.setEntry(name, { role });
    this.saveUsers(users);
    return this.info(name);
  }

  async passwd(name: string, password: string): Promise<void> {
    checkPassword(password);
    const users = new Map(this.htpasswd.current());
    if (!users.has(name)) throw new UserError(`no user "${name}"`);
    users.set(name, await hashPassword(password));
    this.saveUsers(users);
  }

  setRole(name: string, role: Role): UserInfo {
    if (!isRole(role)) throw new UserError(`unknown role "${role}": use admin, push or pull`);
    if (!this.exists(name)) throw new UserError(`no user "${name}"`);
    const current = this.info(name);
    if (current.role === 'admin' && role !== 'admin' && this.admins().length === 1) {
      throw new UserError(`"${name}" is the last admin: make another user admin first`);
    }
    this.setEntry(name, { role, repos: current.repos });
    return this.info(name);
  }

  /** Give `name` a role on repositories matching `pattern` (null removes the rule). */
  setRepoRule(name: string, pattern: string, role: RuleRole | null): UserInfo {
    if (!this.exists(name)) throw new UserError(`no user "${name}"`);
    if (!isValidPattern(pattern)) throw new UserError(`invalid repository pattern "${pattern}" (lower-case name, * as wildcard)`);
    if (role !== null && !isRuleRole(role)) throw new UserError(`unknown role "${role}": use push, pull or none`);
    const current = this.info(name);
    const repos = { ...current.repos };
    if (role === null) delete repos[pattern];
    else repos[pattern] = role;
    this.setEntry(name, { role: current.role, repos });
    return this.info(name);
  }

  remove(name: string): void {
    const users = new Map(this.htpasswd.current());
    if (!users.has(name)) throw new UserError(`no user "${name}"`);
    if (this.info(name).role === 'admin' && this.admins().length === 1) {
      throw new UserError(`"${name}" is the last admin and cannot be removed`);
    }
    users.delete(name);
    this.saveUsers(users);
    const doc = structuredClone(this.roles.current());
    if (doc.users[name]) {
      delete doc.users[name];
      this.saveRoles(doc);
    }
  }

  private setEntry(name: string, e: UserRoles): void {
    const doc = structuredClone(this.roles.current());
    doc.users[name] = e.repos && Object.keys(e.repos).length ? { role: e.role, repos: e.repos } : { role: e.role };
    this.saveRoles(doc);
  }

  /** When nobody exists yet: create `admin` with a random password and return it (shown once). */
  async ensureInitialAdmin(randomPassword: () => string): Promise<{ name: string; password: string } | null> {
    if (this.hasUsers()) return null;
    const password = randomPassword();
    await this.add('admin', password, 'admin');
    return { name: 'admin', password };
  }
}

function checkPassword(pw: string): void {
  if (typeof pw !== 'string' || pw.length < 8) throw new UserError('passwords need at least 8 characters');
  if (pw.length > 72) throw new UserError('bcrypt uses at most 72 characters of a password: choose a shorter one');
  if (/[\r\n]/.test(pw)) throw new UserError('a password cannot contain line breaks');
}

/** Map a user-management error to the registry's error format for HTTP callers. */
export function userErrorToOci(e: unknown): unknown {
  return e instanceof UserError ? new OciError('DENIED', e.message, undefined, { status: 400 }) : e;
}
