// Access control for the registry's HTTP API: who is calling (Basic credentials, or a
// Bearer token from our token endpoint) and whether they may do what they ask.
//
// - Verified credentials are cached by a hash of the pair, so a repeat request costs no
//   bcrypt; any change to the users or roles file drops the whole cache at once.
// - Failed logins count per user and per client address; too many → 429 with Retry-After.
// - With anonymous pull on, the challenge is Bearer (token endpoint /lanyard/token), since
//   Docker can fetch an anonymous token but cannot pull anonymously after a Basic challenge.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Router from '@koa/router';
import { OciError } from '../oci/errors';
import { nowIso, type EventBus, type AuthEvent } from '../events/bus';
import type { SettingsStore } from '../settings';
import { BoundedMap } from '../storage/cache';
import { Lockout } from './lockout';
import { roleAllows, type Action } from './roles';
import type { UserStore } from './users';
import type { RegistryContext, RegistryState } from '../http/context';

export const TOKEN_PATH = '/lanyard/token';
export const LOGIN_PATH = '/lanyard/login';
export const DEFAULT_REALM = 'Lanyard Registry';
const CACHE_TTL_MS = 2 * 60_000;
const TOKEN_TTL_S = 300;

export type AccessAction = Action | 'ping';

export interface GuardOptions {
  users: UserStore;
  settings: SettingsStore;
  bus: EventBus;
  realm?: string;
  /** file holding the token signing key (created 0600 when missing) */
  tokenKeyFile: string;
}

interface Identity {
  user: string | null;
  via: 'none' | 'basic' | 'bearer';
}

interface CacheEntry {
  user: string;
  expires: number;
  generation: number;
}

export class AccessGuard {
  readonly users: UserStore;
  private readonly settings: SettingsStore;
  private readonly bus: EventBus;
  readonly realm: string;
  private readonly key: Buffer;
  private readonly cache = new BoundedMap<string, CacheEntry>(10_000);
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly lockout: Lockout;

  constructor(opts: GuardOptions) {
    this.users = opts.users;
    this.settings = opts.settings;
    this.bus = opts.bus;
    this.realm = opts.realm ?? DEFAULT_REALM;
    this.key = loadOrCreateKey(opts.tokenKeyFile);
    this.lockout = new Lockout(() => this.settings.current().lockout);
  }

  /** Throws 401/403/429 unless the caller may do `action` on `repo` (null: registry-wide). */
  authorize = async (ctx: RegistryContext, repo: string | null, action: AccessAction): Promise<void> => {
    const id = await this.identify(ctx);
    ctx.state.user = id.user;
    if (id.user === null) {
      if (action === 'ping') {
        if (id.via === 'bearer') return; // an anonymous token: the client has done the dance
        throw this.challenge(ctx, null, action);
      }
      if (action === 'pull' && this.settings.current().anonymousPull) return;
      // an anonymous token asking for more than pull: say so, or Docker retries for a minute
      throw this.challenge(ctx, repo, action, 'authentication required', id.via === 'bearer' ? 'insufficient_scope' : undefined);
    }
    if (action === 'ping' || repo === null) return; // the catalog is filtered per repository
    const role = this.users.roleOn(id.user, repo);
    if (!roleAllows(role, action)) {
      this.audit({ action: 'denied', user: id.user, addr: ctx.ip, repo, detail: { action } });
      throw new OciError('DENIED', `user "${id.user}" may not ${action} ${repo}`, { repository: repo, action });
    }
  };

  /** Whether the (already authorized) caller may read `repo`: filters the catalog. */
  canPull(ctx: RegistryContext, repo: string): boolean {
    const user = ctx.state.user ?? null;
    if (user === null) return this.settings.current().anonymousPull;
    return roleAllows(this.users.roleOn(user, repo), 'pull');
  }

  /** The user a request authenticates as (null: anonymous); 401/429 for bad credentials. */
  async identify(ctx: RegistryContext): Promise<Identity> {
    const header = ctx.get('Authorization');
    if (!header) return { user: null, via: 'none' };
    const sp = header.indexOf(' ');
    const scheme = (sp > 0 ? header.slice(0, sp) : header).toLowerCase();
    const value = sp > 0 ? header.slice(sp + 1).trim() : '';
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw this.challenge(ctx, null, 'ping', 'malformed Basic credentials');
      return { user: await this.checkPassword(ctx, decoded.slice(0, colon), decoded.slice(colon + 1)), via: 'basic' };
    }
    if (scheme === 'bearer') {
      const user = this.verifyToken(value);
      if (user === undefined) throw this.challenge(ctx, null, 'ping', 'invalid or expired token', 'invalid_token');
      return { user, via: 'bearer' };
    }
    throw this.challenge(ctx, null, 'ping', `unsupported authorization scheme`);
  }

  private async checkPassword(ctx: RegistryContext, user: string, password: string): Promise<string> {
    const generation = this.users.refresh();
    const cacheKey = crypto.createHash('sha256').update(user).update('\0').update(password).digest('base64url');
    const hit = this.cache.get(cacheKey);
    const now = Date.now();
    if (hit && hit.generation === generation && hit.expires > now && hit.user === user) return user;

    const keys = [`user:${user}`, `addr:${ctx.ip}`];
    const wait = this.lockout.retryAfter(keys, now);
    if (wait > 0) {
      throw new OciError('TOOMANYREQUESTS', 'too many failed logins: try again later', { retryAfterSeconds: wait }, { headers: { 'Retry-After': String(wait) } });
    }
    // one bcrypt per distinct credential pair at a time (a push opens several connections);
    // the request that runs it records the outcome, the others share it
    let pending = this.inflight.get(cacheKey);
    if (!pending) {
      pending = this.verifyAndRecord(ctx, user, password, cacheKey, keys).finally(() => this.inflight.delete(cacheKey));
      this.inflight.set(cacheKey, pending);
    }
    if (!(await pending)) throw this.challenge(ctx, null, 'ping', 'invalid user name or password');
    return user;
  }

  private async verifyAndRecord(ctx: RegistryContext, user: string, password: string, cacheKey: string, keys: string[]): Promise<boolean> {
    const ok = await this.users.verify(user, password);
    if (!ok) {
      const locked = this.lockout.fail(keys);
      this.audit({ action: 'login.failure', user, addr: ctx.ip });
      if (locked.length) this.audit({ action: 'lockout', user, addr: ctx.ip, detail: { keys: locked.map((k) => k.split(':')[0]).join(',') } });
      return false;
    }
    this.lockout.succeed([`user:${user}`]);
    this.audit({ action: 'login.success', user, addr: ctx.ip });
    this.cache.set(cacheKey, { user, expires: Date.now() + CACHE_TTL_MS, generation: this.users.refresh() });
    return true;
  }

  basicChallenge(message = 'authentication required'): OciError {
    return new OciError('UNAUTHORIZED', message, undefined, { headers: { 'WWW-Authenticate': `Basic realm="${this.realm.replace(/["\\]/g, '')}"` } });
  }

  anonymousPull(): boolean {
    return this.settings.current().anonymousPull;
  }

  /** 401 with the challenge clients expect (Basic, or Bearer when anonymous pull is on). */
  challenge(ctx: RegistryContext, repo: string | null, action: AccessAction, message = 'authentication required', error?: string): OciError {
    let header: string;
    if (this.settings.current().anonymousPull) {
      const parts = [`realm="${ctx.protocol}://${ctx.host}${TOKEN_PATH}"`, 'service="lanyard"'];
      if (repo) parts.push(`scope="repository:${repo}:${action === 'pull' ? 'pull' : 'pull,push'}"`);
      if (error) parts.push(`error="${error}"`);
      header = `Bearer ${parts.join(',')}`;
    } else {
      return this.basicChallenge(message);
    }
    return new OciError('UNAUTHORIZED', message, undefined, { headers: { 'WWW-Authenticate': header } });
  }

  // ------------------------------------------------------------------ tokens

  /** A signed token naming the user (or anonymous) and, for users, their current password hash. */
  issueToken(user: string | null, ttl = TOKEN_TTL_S): string {
    const payload = Buffer.from(JSON.stringify({ u: user, f: user ? this.users.hashFingerprint(user) : null, e: Math.floor(Date.now() / 1000) + ttl })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  /** The token's user (null: anonymous), or undefined when it is invalid, expired or revoked. */
  verifyToken(token: string): string | null | undefined {
    const dot = token.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = token.slice(0, dot);
    const sig = Buffer.from(token.slice(dot + 1));
    const want = Buffer.from(this.sign(payload));
    if (sig.length !== want.length || !crypto.timingSafeEqual(sig, want)) return undefined;
    let p: { u?: unknown; f?: unknown; e?: unknown };
    try {
      p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof p.e !== 'number' || p.e * 1000 < Date.now()) return undefined;
    if (p.u === null) return null;
    if (typeof p.u !== 'string') return undefined;
    this.users.refresh();
    const f = this.users.hashFingerprint(p.u);
    if (!f || f !== p.f) return undefined; // user removed or password changed
    return p.u;
  }

  private sign(payload: string): string {
    return crypto.createHmac('sha256', this.key).update(payload).digest('base64url');
  }

  /**
   * GET /lanyard/token: the Docker token protocol (Basic credentials in, Bearer token out).
   * GET /lanyard/login: asks a browser for credentials (Basic challenge) even when anonymous
   * pull lets it browse without them, then sends it back to the UI.
   */
  registerRoutes(router: Router<RegistryState>): void {
    router.get(LOGIN_PATH, async (ctx: RegistryContext) => {
      const id = ctx.get('Authorization').toLowerCase().startsWith('basic ') ? await this.identify(ctx) : { user: null };
      if (id.user === null) throw this.basicChallenge('log in to use the registry');
      ctx.state.user = id.user;
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect('/');
    });
    router.get(TOKEN_PATH, async (ctx: RegistryContext) => {
      const id = await this.identify(ctx);
      ctx.state.user = id.user;
      if (id.user === null && !this.settings.current().anonymousPull) throw this.basicChallenge();
      const token = this.issueToken(id.user);
      ctx.set('Cache-Control', 'no-store');
      ctx.status = 200;
      ctx.body = { token, access_token: token, expires_in: TOKEN_TTL_S, issued_at: new Date().toISOString() };
    });
  }

  private audit(e: Omit<AuthEvent, 'type' | 'time'>): void {
    this.bus.emit({ type: 'auth', time: nowIso(), ...e });
  }
}

function loadOrCreateKey(file: string): Buffer {
  try {
    const k = fs.readFileSync(file);
    if (k.length >= 32) return k;
  } catch {
    /* create below */
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const k = crypto.randomBytes(32);
  fs.writeFileSync(file, k, { mode: 0o600 });
  return k;
}
