// What the registry's HTTP layer shares between middleware and routes.
import type Koa from 'koa';
import type { EventBus } from '../events/bus';
import type { RegistryStore } from '../storage/store';

export type Action = 'pull' | 'push' | 'delete';

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
  /** Access check for an action on a repository (no-op until auth is configured). */
  authorize?: (ctx: RegistryContext, repo: string | null, action: Action) => Promise<void>;
}
