// GET /lanyard/ca.crt and GET /lanyard/join.sh, without authentication: the CA is public
// (clients pin it by fingerprint) and join.sh only holds the CA and the addresses.
import type Router from '@koa/router';
import { joinAddresses, renderJoinScript, type JoinMaterial } from './join';

export type JoinMaterialSource = () => JoinMaterial | Promise<JoinMaterial>;

export function registerTrustRoutes<S, C>(router: Router<S, C>, getMaterial: JoinMaterialSource): void {
  router.get('/lanyard/ca.crt', async (ctx) => {
    const m = await getMaterial();
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Disposition', 'attachment; filename="lanyard-ca.crt"');
    ctx.type = 'application/x-pem-file';
    ctx.body = m.caPem;
  });
  router.get('/lanyard/join.sh', async (ctx) => {
    const m = await getMaterial();
    // the address the caller used goes into the `docker login` line when it is one of ours
    const used = ctx.host.toLowerCase();
    const preferred = joinAddresses(m).includes(used) ? used : undefined;
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/x-shellscript; charset=utf-8';
    ctx.body = renderJoinScript(m, { preferred });
  });
}
