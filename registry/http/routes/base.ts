// GET /v2/ (API version check) and GET /v2/_catalog.
import type Router from '@koa/router';
import type { AppDeps, RegistryContext, RegistryState } from '../context';
import { paginate } from '../util';

export function registerBase(router: Router<RegistryState>, deps: AppDeps): void {
  router.get('/v2/', async (ctx: RegistryContext) => {
    await deps.authorize?.(ctx, null, 'pull');
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = '{}';
  });

  router.get('/v2/_catalog', async (ctx: RegistryContext) => {
    await deps.authorize?.(ctx, null, 'pull');
    const all = await deps.store.listRepositories();
    ctx.status = 200;
    ctx.body = { repositories: paginate(ctx, all, '/v2/_catalog') };
  });
}
