// Blob uploads: POST (new, one-request, or cross-repository mount), PATCH chunks,
// GET status, PUT to finish, DELETE to cancel.
import type Router from '@koa/router';
import { OciError } from '../../oci/errors';
import { checkDigest, checkName, checkUploadId } from '../../oci/grammar';
import { rangeHeader, uploadLocation } from '../../storage/store';
import type { AppDeps, RegistryContext, RegistryState } from '../context';
import { contentLength, hasBody, param, parseContentRange, repoParam, emptyResponse } from '../util';
import { NAME } from './blobs';

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function registerUploads(router: Router<RegistryState>, deps: AppDeps): void {
  const { store } = deps;

  const uploadAccepted = (ctx: RegistryContext, repo: string, id: string, size: number, status = 202) => {
    ctx.set('Location', uploadLocation(repo, id));
    ctx.set('Range', rangeHeader(size));
    ctx.set('Docker-Upload-UUID', id);
    emptyResponse(ctx, status);
  };
  const blobCreated = (ctx: RegistryContext, repo: string, digest: string) => {
    ctx.set('Location', `/v2/${repo}/blobs/${digest}`);
    ctx.set('Docker-Content-Digest', digest);
    emptyResponse(ctx, 201);
  };
  const changed = (ctx: RegistryContext, repo: string, digest: string, action: 'blob.push' | 'blob.mount') =>
    deps.bus.emit({ type: 'registry', time: new Date().toISOString(), action, repo, digest, user: ctx.state.user ?? null });

  router.post(`/v2/${NAME}/blobs/uploads`, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    await deps.access?.authorize(ctx, repo, 'push');
    const digestParam = single(ctx.query.digest);
    const mount = single(ctx.query.mount);
    if (mount !== undefined) {
      const d = checkDigest(mount);
      const from = single(ctx.query.from);
      if (from !== undefined) {
        checkName(from);
        let allowed = true;
        try {
          await deps.access?.authorize(ctx, from, 'pull');
        } catch {
          allowed = false; // no read access to the source: fall back to a normal upload
        }
        if (allowed && (await store.mountBlob(repo, from, d)) !== null) {
          changed(ctx, repo, d.value, 'blob.mount');
          return blobCreated(ctx, repo, d.value);
        }
      }
    } else if (digestParam !== undefined) {
      const d = checkDigest(digestParam);
      const size = await store.putBlob(repo, d, ctx.req, contentLength(ctx));
      ctx.state.bytesIn = size;
      changed(ctx, repo, d.value, 'blob.push');
      return blobCreated(ctx, repo, d.value);
    }
    const id = await store.startUpload(repo);
    uploadAccepted(ctx, repo, id, 0);
  });

  router.get(`/v2/${NAME}/blobs/uploads/:uuid`, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    const id = checkUploadId(param(ctx, 'uuid'));
    await deps.access?.authorize(ctx, repo, 'push');
    const size = await store.uploadSize(repo, id);
    uploadAccepted(ctx, repo, id, size, 204);
  });

  router.patch(`/v2/${NAME}/blobs/uploads/:uuid`, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    const id = checkUploadId(param(ctx, 'uuid'));
    await deps.access?.authorize(ctx, repo, 'push');
    const range = parseContentRange(ctx.get('Content-Range'));
    const before = await store.uploadSize(repo, id);
    const size = await store.appendUpload(repo, id, ctx.req, { range, length: contentLength(ctx) });
    ctx.state.bytesIn = size - before;
    uploadAccepted(ctx, repo, id, size);
  });

  router.put(`/v2/${NAME}/blobs/uploads/:uuid`, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    const id = checkUploadId(param(ctx, 'uuid'));
    await deps.access?.authorize(ctx, repo, 'push');
    const digestParam = single(ctx.query.digest);
    if (digestParam === undefined) throw new OciError('DIGEST_INVALID', 'the digest query parameter is required to finish an upload');
    const d = checkDigest(digestParam);
    const last = hasBody(ctx) ? { body: ctx.req, length: contentLength(ctx) } : undefined;
    const before = last ? await store.uploadSize(repo, id) : 0;
    const size = await store.completeUpload(repo, id, d, last);
    ctx.state.bytesIn = last ? size - before : 0;
    changed(ctx, repo, d.value, 'blob.push');
    blobCreated(ctx, repo, d.value);
  });

  router.delete(`/v2/${NAME}/blobs/uploads/:uuid`, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    const id = checkUploadId(param(ctx, 'uuid'));
    await deps.access?.authorize(ctx, repo, 'push');
    await store.cancelUpload(repo, id);
    emptyResponse(ctx, 204);
  });
}
