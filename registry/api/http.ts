// The HTTP transport of the typed API, and the built UI as static files, on the registry's
// own Koa app (mounted by registry/http/app.ts):
//
//   POST /lanyard/api/<operation>   {"args": [...]}  →  ApiResponse envelope (contract.ts)
//   GET  /, /app.js, /app.css, ...  files from dist/renderer, with a strict CSP
//
// The renderer uses the API over HTTP when it runs in a plain browser (LAN colleagues,
// tests); inside Electron it uses IPC (main/ipc.ts). Both end in service.ts's dispatch.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type Koa from 'koa';
import type Router from '@koa/router';
import { OciError } from '../oci/errors';
import type { AppDeps, RegistryContext, RegistryState } from '../http/context';
import { HTTP_API_PREFIX, type OperationName } from './contract';
import { ApiService, checkOperation, dispatch, failure, type DispatchOutcome } from './service';

export interface ApiHttpOptions {
  /** defaults to the shared service of deps.store (the one the IPC transport uses too) */
  service?: ApiService;
  /**
   * AUTH HOOK — who is calling. Return the Lanyard user name, or null for anonymous.
   * Default: anonymous when the registry runs open; with access control on, the caller must
   * pass the registry-wide check (see defaultAuthenticate). To require a Lanyard user, pass
   * a function that checks the request's credentials (session cookie, token, ...) and throws
   * `new OciError('UNAUTHORIZED', ..., undefined, { headers: { 'WWW-Authenticate': ... } })`
   * for a missing/bad login, or `new OciError('DENIED')` for a user whose role may not run
   * `operation`. The error reaches the caller as the usual envelope with that status; the
   * user name is recorded on the request event and passed to the service as
   * CallContext.user (where per-user filtering, e.g. of listRepositories, would go).
   */
  authenticate?: (ctx: RegistryContext, operation: OperationName) => Promise<string | null>;
  /** largest request body accepted (bytes) */
  maxBodyBytes?: number;
}

const anonymous = async (): Promise<string | null> => null;

/**
 * Until the API has its own notion of a Lanyard user: when the registry runs with access
 * control, fail closed — an API caller must pass the same check as a registry-wide request
 * (GET /v2/). Without access control every caller is anonymous.
 */
function defaultAuthenticate(deps: AppDeps): NonNullable<ApiHttpOptions['authenticate']> {
  const access = deps.access;
  if (!access) return anonymous;
  return async (ctx) => {
    try {
      await access.authorize(ctx, null, 'ping');
    } catch (e) {
      if (!(e instanceof OciError) || e.code !== 'UNAUTHORIZED') throw e;
      // browsers can answer a Basic challenge (their login dialog), not a Bearer one
      if (!ctx.get('Authorization') && access.anonymousPull()) return null;
      throw access.basicChallenge(e.message);
    }
    return ctx.state.user ?? null;
  };
}

/** Register `POST /lanyard/api/:operation` on the registry's router. */
export function registerApi(router: Router<RegistryState>, deps: AppDeps, opts: ApiHttpOptions = {}): void {
  const service = opts.service ?? ApiService.for(deps);
  const authenticate = opts.authenticate ?? defaultAuthenticate(deps);
  const maxBody = opts.maxBodyBytes ?? 64 * 1024;

  router.post(`${HTTP_API_PREFIX}:operation`, async (ctx: RegistryContext) => {
    let outcome: DispatchOutcome;
    const opParam = (ctx.params as Record<string, string>).operation;
    try {
      checkCaller(ctx);
      const op = checkOperation(opParam);
      const user = await authenticate(ctx, op);
      ctx.state.user = user;
      const args = await readArgs(ctx, maxBody);
      outcome = await dispatch(service, op, args, { transport: 'http', registryUrl: origin(ctx), user });
    } catch (err) {
      outcome = failure(err, opParam);
    }
    if (!outcome.response.ok) ctx.state.errorCode = outcome.response.error.code;
    ctx.status = outcome.status;
    ctx.set(outcome.headers);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(outcome.response);
  });
}

/** The origin this request reached us at (what the caller should use for the registry). */
function origin(ctx: RegistryContext): string {
  if (ctx.host) return `${ctx.protocol}://${ctx.host}`;
  const { localAddress, localPort } = ctx.req.socket;
  const host = localAddress?.includes(':') ? `[${localAddress}]` : localAddress;
  return `${ctx.protocol}://${host}:${localPort}`;
}

/**
 * Browsers may only call the API from the UI's own origin. Requiring a JSON content type
 * forces a CORS preflight (which we never grant) on cross-site requests; Sec-Fetch-Site and
 * Origin reject the rest. Non-browser clients (curl, scripts) send neither header.
 */
function checkCaller(ctx: RegistryContext): void {
  const site = ctx.get('Sec-Fetch-Site');
  if (site && site !== 'same-origin' && site !== 'none') throw new OciError('DENIED', 'cross-site API calls are not allowed');
  const from = ctx.get('Origin');
  if (from && from !== origin(ctx)) throw new OciError('DENIED', 'cross-origin API calls are not allowed');
  if (!ctx.is('application/json')) {
    throw new OciError('UNSUPPORTED', 'API calls must be sent as Content-Type: application/json', undefined, { status: 415 });
  }
}

async function readArgs(ctx: RegistryContext, limit: number): Promise<unknown> {
  const declared = Number(ctx.get('Content-Length') || NaN);
  // the rest of the body stays unread: close the connection after answering
  const tooLarge = () => new OciError('SIZE_INVALID', `API request body is larger than ${limit} bytes`, { limit }, { status: 413, headers: { Connection: 'close' } });
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw tooLarge();
    chunks.push(chunk);
  }
  ctx.state.bytesIn = total;
  const text = Buffer.concat(chunks, total).toString('utf8').trim();
  if (text === '') return [];
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new OciError('UNSUPPORTED', 'API request body is not valid JSON', undefined, { status: 400 });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new OciError('UNSUPPORTED', 'API request body must be an object like {"args": [...]}', undefined, { status: 400 });
  }
  return (body as { args?: unknown }).args ?? [];
}

// ------------------------------------------------------------------ static UI

/**
 * Content-Security-Policy of the UI: scripts, styles and API calls from our own origin only,
 * no inline code, no plugins, no framing, no forms posting elsewhere. renderer/index.html
 * carries the same policy (minus frame-ancestors, which a meta tag cannot set) for Electron.
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** One flat file name: no slashes, no leading dot, so nothing can climb out of the UI folder. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+$/;
const RESCAN_MS = 1000;

/** Where `npm run build` puts the UI: dist/renderer, next to dist/registry. */
export function defaultUiDir(): string {
  return path.resolve(__dirname, '..', '..', 'renderer');
}

export interface UiOptions {
  dir?: string;
}

/**
 * Serve the built UI. Only regular files directly inside `dir` whose names and types are
 * known are ever served — the request path is looked up in that list, never joined onto a
 * filesystem path. `/` is index.html. Anything else falls through to the next middleware.
 */
export function serveUi(opts: UiOptions = {}): Koa.Middleware<RegistryState> {
  const dir = path.resolve(opts.dir ?? defaultUiDir());
  let files = new Map<string, string>();
  let scannedAt = 0;

  async function scan(): Promise<void> {
    const next = new Map<string, string>();
    try {
      for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
        // Dirent types come from lstat: symlinks are not files here, so they are never followed
        if (e.isFile() && SAFE_NAME.test(e.name) && CONTENT_TYPES[path.extname(e.name)]) next.set(e.name, path.join(dir, e.name));
      }
    } catch {
      /* not built yet */
    }
    files = next;
    scannedAt = Date.now();
  }

  return async (ctx: RegistryContext, next: Koa.Next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const name = ctx.path === '/' ? 'index.html' : ctx.path.slice(1);
    if (!SAFE_NAME.test(name)) return next();
    // rescan on a miss (the UI may have been rebuilt), at most once a second
    if (!files.has(name) && Date.now() - scannedAt > RESCAN_MS) await scan();
    const file = files.get(name);
    if (!file) return next();
    const st = await fsp.stat(file).catch(() => null);
    if (!st?.isFile()) return next();
    ctx.status = 200;
    ctx.set({
      'Content-Security-Policy': UI_CSP,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-cache',
    });
    ctx.type = CONTENT_TYPES[path.extname(name)];
    ctx.length = st.size;
    if (ctx.method === 'GET') ctx.body = fs.createReadStream(file);
  };
}
