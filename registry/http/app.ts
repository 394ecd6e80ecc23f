// The Koa application: middleware order, the OCI routes, and the fallback for unknown
// endpoints. Built from injected dependencies so the server, tests and the Electron shell
// all use the same app.
import Koa from 'koa';
import Router from '@koa/router';
import { OciError } from '../oci/errors';
import { registerApi, serveUi } from '../api/http';
import { registerTrustRoutes } from '../trust/routes';
import type { AppDeps, RegistryContext, RegistryState } from './context';
import { ociErrors, requestEvents } from './middleware';
import { registerBase } from './routes/base';
import { registerBlobs } from './routes/blobs';
import { registerManifests } from './routes/manifests';
import { registerTags } from './routes/tags';
import { registerUploads } from './routes/uploads';

export function createApp(deps: AppDeps): Koa<RegistryState> {
  const app = new Koa<RegistryState>({ proxy: false });
  app.silent = true; // errors are answered as OCI JSON and logged by ociErrors
  const router = new Router<RegistryState>();
  registerBase(router, deps);
  registerUploads(router, deps); // before blobs: /blobs/uploads/... must win over /blobs/<digest>
  registerBlobs(router, deps);
  registerManifests(router, deps);
  registerTags(router, deps);
  deps.guard?.registerRoutes(router); // GET /lanyard/token (Bearer tokens), /lanyard/login, when auth is on
  const { tls, port } = deps;
  if (tls && port) {
    // GET /lanyard/ca.crt and /lanyard/join.sh (no auth): how other machines come to trust us
    registerTrustRoutes(router, () => {
      const m = tls();
      if (!m?.ca || !m.caFingerprintHex) throw new OciError('UNSUPPORTED', 'this registry does not use Lanyard\'s CA', undefined, { status: 404 });
      return { addresses: [...m.sans.dnsNames, ...m.sans.ips], port: port(), caPem: m.ca, fingerprint: m.caFingerprintHex };
    });
  }
  registerApi(router, deps); // POST /lanyard/api/<operation>: the UI's typed API over HTTP

  app.use(requestEvents(deps.bus));
  app.use(ociErrors());
  app.use(router.routes());
  app.use(serveUi()); // the built UI (dist/renderer) at /
  app.use(async (ctx: RegistryContext) => {
    // nothing matched: a known path with another method is 405, anything else 404
    const match = router.match(ctx.path, ctx.method);
    if (match.path.length > 0) {
      const allowed = new Set(match.path.flatMap((l) => l.methods));
      throw new OciError('UNSUPPORTED', `method ${ctx.method} not allowed`, undefined, { headers: { Allow: [...allowed].join(', ') } });
    }
    throw new OciError('UNSUPPORTED', 'unknown endpoint', { path: ctx.path.slice(0, 200) }, { status: 404 });
  });
  return app;
}
