// What the registry's HTTP layer shares between middleware and routes.
import type Koa from 'koa';
import type { EventBus } from '../events/bus';
import type { RegistryStore } from '../storage/store';
import type { UserStore } from '../auth/users';
import type { SettingsStore } from '../settings';

/** What a request does: registry-wide ping, or an action on a repository (null: the catalog). */
export type Action = 'pull' | 'push' | 'delete' | 'ping';

export interface RegistryState {
  /** repository the request is about (set once its name has been validated) */
  repo?: string;
  /** authenticated user, null for anonymous */
  user?: string | null;
  /** request body bytes taken in */
  bytesIn?: number;
  /** OCI error code of a failed request (for the event log) */
  errorCode?: string;
}

export type RegistryContext = Koa.ParameterizedContext<RegistryState>;

export interface AppDeps {
  store: RegistryStore;
  bus: EventBus;
  /** Largest manifest accepted (bytes); larger gets 413. */
  maxManifestBytes?: number;
  /** Access control; absent when the registry runs open (loopback without users, --no-auth). */
  access?: AccessControl;
  users?: UserStore;
  settings?: SettingsStore;
  /** the first admin's password when this start created it (the desktop app shows it once) */
  initialAdmin?: { name: string; password: string } | null;
  /** the certificate being served (null: plain HTTP) */
  tls?: () => import('../tls/store').TlsMaterial | null;
  /** the port the server listens on (known once it listens), and the address */
  port?: () => number;
  bindHost?: string;
  /** the token endpoint for Bearer auth (registered when access control is on) */
  guard?: { registerRoutes(router: import('@koa/router')<RegistryState>): void };
}

export interface AccessControl {
  /** Throws 401/403/429 unless the caller may do `action` on `repo` (null: registry-wide). */
  authorize(ctx: RegistryContext, repo: string | null, action: Action): Promise<void>;
  /** After authorize: whether the caller may read `repo` (filters the catalog). */
  canPull(ctx: RegistryContext, repo: string): boolean;
  /** A 401 with a Basic challenge (what browsers can answer), for the UI's API. */
  basicChallenge(message?: string): import('../oci/errors').OciError;
  anonymousPull(): boolean;
}
