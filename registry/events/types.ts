// The events Lanyard emits: every request and every notable action. Types only, with no
// imports, so the UI's API contract (../api/contract.ts) can share them without Node.
export interface RequestEvent {
  type: 'request';
  time: string; // RFC 3339
  method: string;
  path: string;
  status: number;
  /** bytes sent in the response body */
  bytes: number;
  /** bytes received in the request body */
  bytesIn: number;
  durationMs: number;
  user: string | null;
  repo: string | null;
  addr: string | null;
  error?: string; // OCI error code when the request failed
}

export interface ServerEvent {
  type: 'server';
  time: string;
  action: 'start' | 'stop' | 'certificate' | 'uploads.purged';
  detail: Record<string, unknown>;
}

export interface RegistryChangeEvent {
  type: 'registry';
  time: string;
  action: 'blob.push' | 'blob.mount' | 'blob.delete' | 'manifest.push' | 'manifest.delete' | 'tag.delete';
  repo: string;
  digest?: string;
  tag?: string;
  user: string | null;
}

/** Audit trail of access control. Never carries a password, hash, token or Authorization value. */
export interface AuthEvent {
  type: 'auth';
  time: string;
  action: 'login.success' | 'login.failure' | 'lockout' | 'denied' | 'user.add' | 'user.remove' | 'user.role' | 'user.passwd' | 'user.rule';
  user: string | null;
  addr?: string | null;
  repo?: string;
  detail?: Record<string, string | number | boolean | null>;
  /** who made a user change (CLI: the OS user; API: the Lanyard admin) */
  by?: string | null;
}

export type LanyardEvent = RequestEvent | ServerEvent | RegistryChangeEvent | AuthEvent;
