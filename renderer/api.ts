// The UI's only way to the registry: the typed API (registry/api/contract.ts) behind one
// client interface, with two implementations — IPC through the Electron preload
// (window.lanyard) and JSON over HTTP (POST /lanyard/api/<operation>) in a plain browser.
import { createContext, useContext } from 'react';
import {
  httpApiPath,
  type ApiResponse,
  type LanyardApi,
  type LanyardBridge,
  type OperationArgs,
  type OperationName,
  type OperationResult,
} from '../registry/api/contract';

export interface ApiClient extends LanyardApi {
  readonly transport: 'ipc' | 'http';
}

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** An API error with this code (e.g. 'UNAUTHORIZED': not logged in; 'DENIED': not allowed). */
export function isApiError(e: unknown, code?: string): e is ApiError {
  return e instanceof ApiError && (code === undefined || e.code === code);
}

type Call = (op: OperationName, args: readonly unknown[]) => Promise<ApiResponse<unknown>>;

function clientOver(call: Call, transport: ApiClient['transport']): ApiClient {
  async function run<K extends OperationName>(op: K, args: OperationArgs<K>): Promise<OperationResult<K>> {
    const r = await call(op, args);
    if (!r.ok) throw new ApiError(r.error.code, r.error.message, r.error.detail);
    return r.result as OperationResult<K>;
  }
  return {
    transport,
    getStatus: () => run('getStatus', []),
    listRepositories: () => run('listRepositories', []),
    listTags: (repository) => run('listTags', [repository]),
    getManifest: (repository, reference) => run('getManifest', [repository, reference]),
    recentEvents: (limit, filter) => run('recentEvents', filter ? [limit, filter] : [limit]),
    whoAmI: () => run('whoAmI', []),
    listUsers: () => run('listUsers', []),
    addUser: (name, password, role) => run('addUser', [name, password, role]),
    setPassword: (name, password) => run('setPassword', [name, password]),
    setRole: (name, role) => run('setRole', [name, role]),
    setRepoRule: (name, pattern, role) => run('setRepoRule', [name, pattern, role]),
    removeUser: (name) => run('removeUser', [name]),
    setAnonymousPull: (enabled) => run('setAnonymousPull', [enabled]),
    takeInitialAdmin: () => run('takeInitialAdmin', []),
    getTls: () => run('getTls', []),
    trustStatus: () => run('trustStatus', []),
    installTrust: () => run('installTrust', []),
    uninstallTrust: () => run('uninstallTrust', []),
  };
}

/** Inside Electron: the preload's functions, one per operation. */
export function ipcClient(bridge: LanyardBridge): ApiClient {
  return clientOver((op, args) => (bridge[op] as (...a: readonly unknown[]) => Promise<ApiResponse<unknown>>)(...args), 'ipc');
}

/** In a browser: the same operations over HTTP on the page's own origin. */
export function httpClient(baseUrl = '', fetchImpl: typeof fetch = (...a) => fetch(...a)): ApiClient {
  return clientOver(async (op, args) => {
    let res: Response;
    try {
      res = await fetchImpl(baseUrl + httpApiPath(op), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ args }),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      return { ok: false, error: { code: 'UNKNOWN', message: 'cannot reach the registry' } };
    }
    try {
      return (await res.json()) as ApiResponse<unknown>;
    } catch {
      return { ok: false, error: { code: 'UNKNOWN', message: `unexpected answer from the registry (HTTP ${res.status})` } };
    }
  }, 'http');
}

export function createClient(): ApiClient {
  return window.lanyard ? ipcClient(window.lanyard) : httpClient();
}

export const ApiContext = createContext<ApiClient | null>(null);

export function useApi(): ApiClient {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside ApiContext');
  return api;
}
