// GET/HEAD/PUT/DELETE /v2/<name>/manifests/<tag|digest>
import type Router from '@koa/router';
import { parseReference } from '../../oci/grammar';
import type { AppDeps, RegistryContext, RegistryState } from '../context';
import { param, readLimitedBody, repoParam, emptyResponse } from '../util';
import { NAME } from './blobs';

export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export function registerManifests(router: Router<RegistryState>, deps: AppDeps): void {
  const { store } = deps;
  const limit = deps.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  const path = `/v2/${NAME}/manifests/:reference`;

  router.get(path, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    const ref = parseReference(param(ctx, 'reference'));
    await deps.access?.authorize(ctx, repo, 'pull');
    const m = await store.getManifest(repo, ref);
    ctx.status = 200;
    ctx.set('Docker-Content-Digest', m.digest);
    ctx.set('ETag', `"${m.digest}"`);
    ctx.type = m.mediaType;
    ctx.length = m.body.length;
    if (ctx.method !== 'HEAD') ctx.body = m.body;
  });

  router.put(path, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    const ref = parseReference(param(ctx, 'reference'));
    await deps.access?.authorize(ctx, repo, 'push');
    const body = await readLimitedBody(ctx, limit);
    const r = await store.putManifest(repo, ref, ctx.get('Content-Type') || undefined, body);
    deps.bus.emit({
      type: 'registry',
      time: new Date().toISOString(),
      action: 'manifest.push',
      repo,
      digest: r.digest,
      ...(ref.kind === 'tag' ? { tag: ref.tag } : {}),
      user: ctx.state.user ?? null,
    });
    ctx.set('Location', `/v2/${repo}/manifests/${r.digest}`);
    ctx.set('Docker-Content-Digest', r.digest);
    if (r.subject) ctx.set('OCI-Subject', r.subject);
    emptyResponse(ctx, 201);
  });

  router.delete(path, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    const ref = parseReference(param(ctx, 'reference'));
    await deps.access?.authorize(ctx, repo, 'delete');
    const r = await store.deleteManifest(repo, ref);
    deps.bus.emit({
      type: 'registry',
      time: new Date().toISOString(),
      action: ref.kind === 'tag' ? 'tag.delete' : 'manifest.delete',
      repo,
      ...(r.digest ? { digest: r.digest } : {}),
      ...(ref.kind === 'tag' ? { tag: ref.tag } : {}),
      user: ctx.state.user ?? null,
    });
    emptyResponse(ctx, 202);
  });
}
