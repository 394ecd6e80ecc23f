// GET /v2/<name>/tags/list and GET /v2/<name>/referrers/<digest>
import type Router from '@koa/router';
import { checkDigest } from '../../oci/grammar';
import { MT } from '../../oci/manifest';
import type { AppDeps, RegistryContext, RegistryState } from '../context';
import { paginate, param, repoParam } from '../util';
import { NAME } from './blobs';

export function registerTags(router: Router<RegistryState>, deps: AppDeps): void {
  const { store } = deps;

  router.get(`/v2/${NAME}/tags/list`, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    await deps.access?.authorize(ctx, repo, 'pull');
    const tags = await store.listTags(repo);
    ctx.status = 200;
    ctx.body = { name: repo, tags: paginate(ctx, tags, `/v2/${repo}/tags/list`) };
  });

  router.get(`/v2/${NAME}/referrers/:digest`, async (ctx: RegistryContext) => {
    const repo = repoParam(ctx);
    const subject = checkDigest(param(ctx, 'digest'));
    await deps.access?.authorize(ctx, repo, 'pull');
    const raw = ctx.query.artifactType;
    const artifactType = Array.isArray(raw) ? raw[0] : raw;
    const manifests = await store.referrers(repo, subject, artifactType || undefined);
    if (artifactType) ctx.set('OCI-Filters-Applied', 'artifactType');
    ctx.status = 200;
    ctx.type = MT.ociIndex;
    ctx.body = JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests });
  });
}
