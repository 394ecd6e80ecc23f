// Cross-cutting middleware: the single OCI error mapping, the API version header, and the
// structured request event for every request.
import type Koa from 'koa';
import { OciError, isOciError } from '../oci/errors';
import { nowIso, type EventBus } from '../events/bus';
import type { RegistryContext, RegistryState } from './context';

export const API_VERSION_HEADER = 'Docker-Distribution-API-Version';

/** Emits one `request` event per request when its response is done (or aborted). */
export function requestEvents(bus: EventBus): Koa.Middleware<RegistryState> {
  return async (ctx: RegistryContext, next) => {
    const started = process.hrtime.bigint();
    const addr = ctx.req.socket?.remoteAddress ?? null; // the socket may be gone by 'close'
    ctx.res.once('close', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const len = ctx.method === 'HEAD' ? 0 : Number(ctx.res.getHeader('content-length') ?? 0) || 0;
      bus.emit({
        type: 'request',
        time: nowIso(),
        method: ctx.method,
        path: ctx.path,
        status: ctx.res.statusCode,
        bytes: len,
        bytesIn: ctx.state.bytesIn ?? 0,
        durationMs: Math.round(durationMs * 1000) / 1000,
        user: ctx.state.user ?? null,
        repo: ctx.state.repo ?? null,
        addr,
        ...(ctx.state.errorCode ? { error: ctx.state.errorCode } : {}),
      });
    });
    await next();
  };
}

/** Every response carries the API version header; every error becomes OCI error JSON. */
export function ociErrors(): Koa.Middleware<RegistryState> {
  return async (ctx: RegistryContext, next) => {
    ctx.set(API_VERSION_HEADER, 'registry/2.0');
    try {
      await next();
    } catch (err) {
      const e = toOciError(err);
      ctx.state.errorCode = e.code;
      if (e.status >= 500) console.error(`lanyard: ${ctx.method} ${ctx.path}: ${(err as Error)?.stack ?? err}`);
      ctx.status = e.status;
      ctx.set(e.headers);
      ctx.set(API_VERSION_HEADER, 'registry/2.0');
      ctx.type = 'application/json';
      ctx.body = e.toJSON();
    }
  };
}

function toOciError(err: unknown): OciError {
  if (isOciError(err)) return err;
  const status = (err as { status?: number })?.status;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error)?.message === 'aborted') {
    return new OciError('BLOB_UPLOAD_INVALID', 'the request body ended early', undefined, { status: 400 });
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new OciError('UNSUPPORTED', (err as Error).message, undefined, { status });
  }
  return new OciError('UNKNOWN', 'internal error', undefined, { status: 500 });
}
