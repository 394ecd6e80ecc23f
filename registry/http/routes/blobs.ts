// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
import type Router from '@koa/router';
import { OciError } from '../../oci/errors';
import { checkDigest } from '../../oci/grammar';
import type { AppDeps, RegistryContext, RegistryState } from '../context';
import { param, parseByteRange, repoParam, emptyResponse } from '../util';

export const NAME = ':name(.+)';

export function registerBlobs(router: Router<RegistryState>, deps: AppDeps): void {
  const { store } = deps;

  router.get(`/v2/${NAME}/blobs/:digest`, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    const d = checkDigest(param(ctx, 'digest'));
    await deps.access?.authorize(ctx, repo, 'pull');
    const size = await store.statBlob(repo, d);
    if (size === null) throw new OciError('BLOB_UNKNOWN', undefined, { digest: d.value });
    ctx.set('Docker-Content-Digest', d.value);
    ctx.set('ETag', `"${d.value}"`);
    ctx.set('Accept-Ranges', 'bytes');
    ctx.set('Cache-Control', 'max-age=31536000');
    ctx.type = 'application/octet-stream';
    const range = ctx.get('Range') ? parseByteRange(ctx.get('Range'), size) : null;
    if (range === 'unsatisfiable') {
      throw new OciError('RANGE_INVALID', 'requested range not satisfiable', { size }, { headers: { 'Content-Range': `bytes */${size}` } });
    }
    const start = range ? range.start : 0;
    const end = range ? range.end : size - 1;
    ctx.status = range ? 206 : 200;
    if (range) ctx.set('Content-Range', `bytes ${start}-${end}/${size}`);
    ctx.length = end - start + 1;
    if (ctx.method === 'HEAD') return;
    if (size === 0) {
      ctx.body = '';
      return;
    }
    // the body goes out through reused buffers, straight to the socket
    ctx.respond = false;
    try {
      await store.sendBlob(ctx.res, d, start, end);
    } catch (e) {
      if (!ctx.res.headersSent) {
        ctx.respond = true; // nothing sent yet (e.g. the blob vanished): answer with an error
        throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? new OciError('BLOB_UNKNOWN', undefined, { digest: d.value }) : e;
      }
      ctx.res.destroy(e as Error); // headers are out: all we can do is cut the connection
    }
  });

  router.delete(`/v2/${NAME}/blobs/:digest`, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    const d = checkDigest(param(ctx, 'digest'));
    await deps.access?.authorize(ctx, repo, 'delete');
    await store.deleteBlob(repo, d);
    deps.bus.emit({ type: 'registry', time: new Date().toISOString(), action: 'blob.delete', repo, digest: d.value, user: ctx.state.user ?? null });
    emptyResponse(ctx, 202);
  });
}
