// Request parsing helpers shared by the routes: validated parameters, ranges, bodies, paging.
import { OciError } from '../oci/errors';
import { checkName } from '../oci/grammar';
import type { RegistryContext } from './context';

/** The validated repository name of the route; remembers it for the request event. */
export function repoParam(ctx: RegistryContext): string {
  const name = checkName((ctx.params as Record<string, string>).name ?? '');
  ctx.state.repo = name;
  return name;
}

export function param(ctx: RegistryContext, key: string): string {
  return (ctx.params as Record<string, string>)[key] ?? '';
}

/** Declared request body length, or undefined for chunked bodies. */
export function contentLength(ctx: RegistryContext): number | undefined {
  const v = ctx.get('Content-Length');
  if (v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new OciError('SIZE_INVALID', 'invalid Content-Length');
  return n;
}

/** True when the request carries a body (declared non-zero length or chunked encoding). */
export function hasBody(ctx: RegistryContext): boolean {
  const len = ctx.get('Content-Length');
  if (len !== '') return Number(len) > 0;
  return ctx.get('Transfer-Encoding') !== '';
}

/** Upload chunk range: "start-end" (inclusive), also accepting a "bytes " prefix and "/total". */
export function parseContentRange(v: string): { start: number; end: number } | undefined {
  if (!v) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(v.trim());
  if (!m) throw new OciError('RANGE_INVALID', 'malformed Content-Range', { contentRange: v.slice(0, 100) });
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    throw new OciError('RANGE_INVALID', 'invalid Content-Range', { contentRange: v.slice(0, 100) });
  }
  return { start, end };
}

/**
 * A single HTTP byte range against a resource of `size` bytes. Returns null for a header we
 * ignore (absent, multiple ranges, other units) and 'unsatisfiable' when it cannot be served.
 */
export function parseByteRange(v: string, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(v.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null;
  }
  if (start >= size || size === 0) return 'unsatisfiable';
  return { start, end };
}

/** Read a small request body (manifests) with a hard limit; 413 above it. */
export async function readLimitedBody(ctx: RegistryContext, limit: number): Promise<Buffer> {
  const declared = contentLength(ctx);
  const tooLarge = async (alreadyRead: number) => {
    // read and drop a modest rest so the client sees the 413 instead of a reset; then close
    await drain(ctx, Math.max(0, limit * 2 - alreadyRead));
    ctx.set('Connection', 'close');
    return new OciError('SIZE_INVALID', `manifest is larger than the limit of ${limit} bytes`, { limit }, { status: 413 });
  };
  if (declared !== undefined && declared > limit) throw await tooLarge(declared > limit * 2 ? limit * 2 : 0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw await tooLarge(total);
    chunks.push(chunk);
  }
  ctx.state.bytesIn = total;
  if (declared !== undefined && declared !== total) throw new OciError('SIZE_INVALID', 'body length does not match Content-Length');
  return Buffer.concat(chunks, total);
}

/** Consume and discard up to `max` more bytes of the request body (stop early if more). */
async function drain(ctx: RegistryContext, max: number): Promise<void> {
  let seen = 0;
  if (ctx.req.readableEnded || max <= 0) return;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > max) break;
  }
}

/**
 * Lexically sorted `items` after `last`, at most `n` of them, and the Link header for the next
 * page (only when more remain). `n` absent means all.
 */
export function paginate(ctx: RegistryContext, items: string[], basePath: string): string[] {
  const nRaw = ctx.query.n;
  const lastRaw = ctx.query.last;
  if (Array.isArray(nRaw) || Array.isArray(lastRaw)) throw new OciError('PAGINATION_NUMBER_INVALID', 'n and last may be given once');
  let n: number | undefined;
  if (nRaw !== undefined) {
    if (!/^\d+$/.test(nRaw)) throw new OciError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { n: nRaw.slice(0, 50) });
    n = Number(nRaw);
  }
  let start = 0;
  if (lastRaw) {
    // first index whose item sorts after `last` (items are sorted)
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid] <= lastRaw) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const page = n === undefined ? items.slice(start) : items.slice(start, start + n);
  if (n !== undefined && n > 0 && start + n < items.length) {
    const lastItem = page[page.length - 1];
    ctx.set('Link', `<${basePath}?last=${encodeURIComponent(lastItem)}&n=${n}>; rel="next"`);
  }
  return page;
}

/** An empty response with an explicit status (Koa would turn a null body into 204). */
export function emptyResponse(ctx: RegistryContext, status: number): void {
  ctx.body = '';
  ctx.remove('Content-Type');
  ctx.status = status;
}
