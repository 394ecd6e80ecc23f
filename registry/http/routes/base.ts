// GET /v2/ (API version check) and GET /v2/_catalog.
import type Router from '@koa/router';
import type { AppDeps, RegistryContext, RegistryState } from '../context';
import { paginate } from '../util';

export function registerBase(router: Router<RegistryState>, deps: AppDeps): void {
  router.get('/v2/', async (ctx: RegistryContext) => {
    await deps.access?.authorize(ctx, null, 'ping');
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = '{}';
  });

  router.get('/v2/_catalog', async (ctx: RegistryContext) => {
    await deps.access?.authorize(ctx, null, 'pull');
    const { access } = deps;
    const listed = await deps.store.listRepositories();
    const all = access ? listed.filter((r) => access.canPull(ctx, r)) : listed;
    ctx.status = 200;
    ctx.body = { repositories: paginate(ctx, all, '/v2/_catalog') };
  });
}
