// The user directory: htpasswd (names + bcrypt hashes) and roles.json beside it, both
// re-read when they change on disk. Used by the server (verify, roles), the CLI and the API.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
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

  /**
   * Change the files as one step: hold a lock file (other processes: the CLI, the app),
   * re-read both files, apply `fn` to copies, write what changed. Nothing awaits inside, so
   * concurrent calls in this process cannot interleave either.
   */
  private mutate<T>(fn: (users: Map<string, string>, roles: RolesDoc) => T): T {
    return withFileLock(`${this.htpasswdPath}.lock`, () => {
      this.htpasswd.reload();
      this.roles.reload();
      const users = new Map(this.htpasswd.current());
      const roles = structuredClone(this.roles.current());
      const usersBefore = formatHtpasswd(users);
      const rolesBefore = JSON.stringify(roles);
      const result = fn(users, roles);
      if (JSON.stringify(roles) !== rolesBefore) this.roles.write(JSON.stringify(roles, null, 2) + '\n');
      if (formatHtpasswd(users) !== usersBefore) this.htpasswd.write(formatHtpasswd(users));
      return result;
    });
  }

  async add(name: string, password: string, role: Role = DEFAULT_ROLE): Promise<UserInfo> {
    if (!isValidUserName(name)) throw new UserError(`invalid user name "${name}": letters, digits, '.', '_', '@', '-', up to 64 characters`);
    if (!isRole(role)) throw new UserError(`unknown role "${role}": use admin, push or pull`);
    checkPassword(password);
    if (this.exists(name)) throw new UserError(`user "${name}" already exists`);
    const hash = await hashPassword(password); // slow: before the lock, never inside it
    this.mutate((users, roles) => {
      if (users.has(name)) throw new UserError(`user "${name}" already exists`);
      users.set(name, hash);
      roles.users[name] = { role };
    });
    return this.info(name);
  }

  async passwd(name: string, password: string): Promise<void> {
    checkPassword(password);
    if (!this.exists(name)) throw new UserError(`no user "${name}"`);
    const hash = await hashPassword(password);
    this.mutate((users) => {
      if (!users.has(name)) throw new UserError(`no user "${name}"`);
      users.set(name, hash);
    });
  }

  setRole(name: string, role: Role): UserInfo {
    if (!isRole(role)) throw new UserError(`unknown role "${role}": use admin, push or pull`);
    this.mutate((users, roles) => {
      if (!users.has(name)) throw new UserError(`no user "${name}"`);
      const current = roles.users[name]?.role ?? DEFAULT_ROLE;
      if (current === 'admin' && role !== 'admin' && adminCount(users, roles) === 1) {
        throw new UserError(`"${name}" is the last admin: make another user admin first`);
      }
      roles.users[name] = { ...(roles.users[name] ?? {}), role };
    });
    return this.info(name);
  }

  /** Give `name` a role on repositories matching `pattern` (null removes the rule). */
  setRepoRule(name: string, pattern: string, role: RuleRole | null): UserInfo {
    if (!isValidPattern(pattern)) throw new UserError(`invalid repository pattern "${pattern}" (lower-case name, * as wildcard)`);
    if (role !== null && !isRuleRole(role)) throw new UserError(`unknown role "${role}": use push, pull or none`);
    this.mutate((users, roles) => {
      if (!users.has(name)) throw new UserError(`no user "${name}"`);
      const entry: UserRoles = { role: roles.users[name]?.role ?? DEFAULT_ROLE, repos: { ...(roles.users[name]?.repos ?? {}) } };
      if (role === null) delete entry.repos![pattern];
      else entry.repos![pattern] = role;
      if (Object.keys(entry.repos!).length === 0) delete entry.repos;
      roles.users[name] = entry;
    });
    return this.info(name);
  }

  remove(name: string): void {
    this.mutate((users, roles) => {
      if (!users.has(name)) throw new UserError(`no user "${name}"`);
      if ((roles.users[name]?.role ?? DEFAULT_ROLE) === 'admin' && adminCount(users, roles) === 1) {
        throw new UserError(`"${name}" is the last admin and cannot be removed`);
      }
      users.delete(name);
      delete roles.users[name];
    });
  }

  /** When nobody exists yet: create `admin` with a random password and return it (shown once). */
  async ensureInitialAdmin(randomPassword: () => string): Promise<{ name: string; password: string } | null> {
    if (this.hasUsers()) return null;
    const password = randomPassword();
    await this.add('admin', password, 'admin');
    return { name: 'admin', password };
  }
}

function adminCount(users: Map<string, string>, roles: RolesDoc): number {
  let n = 0;
  for (const name of users.keys()) if (roles.users[name]?.role === 'admin') n++;
  return n;
}

const LOCK_STALE_MS = 10_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Run `fn` holding an exclusive lock file (created with O_EXCL; a stale one is broken). */
function withFileLock<T>(lockFile: string, fn: () => T): T {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      fs.closeSync(fs.openSync(lockFile, 'wx', 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - fs.statSync(lockFile).mtimeMs > LOCK_STALE_MS) fs.rmSync(lockFile, { force: true });
      } catch {
        /* released meanwhile */
      }
      if (Date.now() > deadline) throw new UserError(`the users file is locked (${lockFile}); try again`);
      Atomics.wait(sleeper, 0, 0, 10); // a short synchronous pause: the critical sections are tiny
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

function checkPassword(pw: string): void {
  if (typeof pw !== 'string' || pw.length < 8) throw new UserError('passwords need at least 8 characters');
  if (pw.length > 72) throw new UserError('bcrypt uses at most 72 characters of a password: choose a shorter one');
  if (/[\r\n]/.test(pw)) throw new UserError('a password cannot contain line breaks');
}
