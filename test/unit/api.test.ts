// The typed API: the service on a real store (temp dir), its argument checks and error
// mapping, the HTTP transport and the static UI on the registry's Koa app, and the pure
// pieces of the Electron shell (sender check, icon, sandbox-safe preload).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Koa from 'koa';
import Router from '@koa/router';
import { OPERATION_NAMES, httpApiPath, ipcChannel, type ApiEvent, type ApiResponse } from '../../registry/api/contract';
import { UI_CSP, registerApi, serveUi } from '../../registry/api/http';
import { ApiService, dispatch, type CallContext } from '../../registry/api/service';
import { EventBus, nowIso, type LanyardEvent } from '../../registry/events/bus';
import { LOG_FILE } from '../../registry/events/log';
import { createApp } from '../../registry/http/app';
import { OciError } from '../../registry/oci/errors';
import { parseDigest } from '../../registry/oci/grammar';
import { RegistryStore } from '../../registry/storage/store';
import { displayUrl, isAppUrl } from '../../main/security';
import { iconPng } from '../../main/icon';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const CALL: CallContext = { transport: 'ipc', registryUrl: 'http://127.0.0.1:5000', user: null };

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `lanyard-${prefix}-`));
}

function sha(b: Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
}

async function putBlob(store: RegistryStore, repo: string, body: Buffer): Promise<{ mediaType: string; digest: string; size: number }> {
  const digest = sha(body);
  await store.putBlob(repo, parseDigest(digest)!, Readable.from([body]), body.length);
  return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: body.length };
}

async function putImage(store: RegistryStore, repo: string, tags: string[]): Promise<{ digest: string; body: Buffer; layerSizes: number[]; configSize: number }> {
  const layers = [await putBlob(store, repo, crypto.randomBytes(100)), await putBlob(store, repo, crypto.randomBytes(250))];
  const configBody = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux' }));
  const config = { ...(await putBlob(store, repo, configBody)), mediaType: 'application/vnd.oci.image.config.v1+json' };
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, annotations: { 'org.opencontainers.image.title': 'demo' } }));
  let digest = '';
  for (const tag of tags) digest = (await store.putManifest(repo, { kind: 'tag', tag }, OCI_MANIFEST, body)).digest;
  return { digest, body, layerSizes: layers.map((l) => l.size), configSize: config.size };
}

async function call(service: ApiService, op: string, args: unknown[]): Promise<ApiResponse<unknown>> {
  return (await dispatch(service, op, args, CALL)).response;
}

async function ok<T>(service: ApiService, op: string, args: unknown[]): Promise<T> {
  const r = await call(service, op, args);
  assert.ok(r.ok, `${op} failed: ${JSON.stringify(r)}`);
  return r.result as T;
}

describe('API service', () => {
  let dir: string;
  let store: RegistryStore;
  let bus: EventBus;
  let service: ApiService;
  let image: Awaited<ReturnType<typeof putImage>>;

  before(async () => {
    dir = tmp('api');
    store = new RegistryStore(dir, { deleteEnabled: false });
    await store.init();
    // an earlier run's log: recentEvents starts from it
    fs.mkdirSync(store.paths.logsDir(), { recursive: true });
    const old: LanyardEvent = { type: 'server', time: '2020-01-01T00:00:00.000Z', action: 'start', detail: { url: 'x' } };
    fs.writeFileSync(path.join(store.paths.logsDir(), LOG_FILE), JSON.stringify(old) + '\n{"torn line\n');
    bus = new EventBus();
    service = ApiService.for({ store, bus, version: '9.9.9' });
    image = await putImage(store, 'team/app', ['v1', 'latest']);
    await putImage(store, 'solo', ['1.0']);
  });

  after(() => service.close());

  it('is shared per store (both transports use one instance)', () => {
    assert.equal(ApiService.for({ store, bus }), service);
    assert.notEqual(ApiService.for({ store: new RegistryStore(tmp('other')), bus }), service);
  });

  it('getStatus', async () => {
    const s = await ok<Record<string, unknown>>(service, 'getStatus', []);
    assert.equal(s.url, 'http://127.0.0.1:5000');
    assert.equal(s.host, '127.0.0.1:5000');
    assert.equal(s.dataDir, dir);
    assert.equal(s.version, '9.9.9');
    assert.equal(s.deleteEnabled, false);
    assert.equal(typeof s.uptime, 'number');
    assert.ok(!Number.isNaN(Date.parse(s.startedAt as string)));
  });

  it('listRepositories with tag counts', async () => {
    assert.deepEqual(await ok(service, 'listRepositories', []), [
      { name: 'solo', tagCount: 1 },
      { name: 'team/app', tagCount: 2 },
    ]);
  });

  it('listTags with digests', async () => {
    assert.deepEqual(await ok(service, 'listTags', ['team/app']), [
      { name: 'latest', digest: image.digest },
      { name: 'v1', digest: image.digest },
    ]);
  });

  it('getManifest by tag and by digest', async () => {
    for (const ref of ['v1', image.digest]) {
      const m = await ok<Record<string, any>>(service, 'getManifest', ['team/app', ref]);
      assert.equal(m.repository, 'team/app');
      assert.equal(m.reference, ref);
      assert.equal(m.digest, image.digest);
      assert.equal(m.mediaType, OCI_MANIFEST);
      assert.equal(m.size, image.body.length);
      assert.equal(m.kind, 'image');
      assert.deepEqual(m.layers.map((l: { size: number }) => l.size), image.layerSizes);
      assert.equal(m.config.size, image.configSize);
      assert.equal(m.totalSize, image.body.length + image.configSize + image.layerSizes[0] + image.layerSizes[1]);
      assert.deepEqual(m.annotations, { 'org.opencontainers.image.title': 'demo' });
      assert.deepEqual(m.manifest, JSON.parse(image.body.toString()));
    }
  });

  it('getManifest of an index lists its children with platforms', async () => {
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, digest: image.digest, size: image.body.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }],
      }),
    );
    await store.putManifest('team/app', { kind: 'tag', tag: 'multi' }, OCI_INDEX, body);
    const m = await ok<Record<string, any>>(service, 'getManifest', ['team/app', 'multi']);
    assert.equal(m.kind, 'index');
    assert.equal(m.config, null);
    assert.deepEqual(m.manifests, [{ mediaType: OCI_MANIFEST, digest: image.digest, size: image.body.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }]);
    assert.equal(m.totalSize, body.length + image.body.length);
  });

  it('maps failures to the registry error table', async () => {
    const cases: Array<[string, unknown[], string, number]> = [
      ['listTags', ['nope'], 'NAME_UNKNOWN', 404],
      ['listTags', ['Bad Name'], 'NAME_INVALID', 400],
      ['getManifest', ['team/app', 'missing'], 'MANIFEST_UNKNOWN', 404],
      ['getManifest', ['team/app', 'bad tag!'], 'TAG_INVALID', 400],
      ['getManifest', ['team/app', 'sha256:abc'], 'DIGEST_INVALID', 400],
      ['getManifest', ['team/app'], 'UNSUPPORTED', 400],
      ['listTags', [42], 'UNSUPPORTED', 400],
      ['getStatus', ['extra'], 'UNSUPPORTED', 400],
      ['recentEvents', ['10'], 'UNSUPPORTED', 400],
      ['recentEvents', [10, { types: ['nope'] }], 'UNSUPPORTED', 400],
      ['recentEvents', [10, { evil: true }], 'UNSUPPORTED', 400],
      ['deleteEverything', [], 'UNSUPPORTED', 404],
      ['__proto__', [], 'UNSUPPORTED', 404],
      ['constructor', [], 'UNSUPPORTED', 404],
    ];
    for (const [op, args, code, status] of cases) {
      const out = await dispatch(service, op, args, CALL);
      assert.equal(out.response.ok, false, `${op}(${JSON.stringify(args)}) should fail`);
      if (!out.response.ok) assert.equal(out.response.error.code, code, `${op}(${JSON.stringify(args)})`);
      assert.equal(out.status, status, `${op}(${JSON.stringify(args)})`);
    }
    const notArray = await dispatch(service, 'listRepositories', { 0: 'x' }, CALL);
    assert.equal(notArray.status, 400);
  });

  it('hides internal errors behind UNKNOWN', async () => {
    const broken = Object.create(service) as ApiService;
    broken.listRepositories = async () => {
      throw new Error('disk on fire at /secret/path');
    };
    const origError = console.error;
    console.error = () => {};
    try {
      const out = await dispatch(broken, 'listRepositories', [], CALL);
      assert.equal(out.status, 500);
      assert.deepEqual(out.response, { ok: false, error: { code: 'UNKNOWN', message: 'internal error' } });
    } finally {
      console.error = origError;
    }
  });

  it('recentEvents: log history plus the bus, newest first, filtered and limited', async () => {
    const req = (p: string, i: number): LanyardEvent => ({ type: 'request', time: nowIso(), method: 'GET', path: p, status: 200, bytes: i, bytesIn: 0, durationMs: 1, user: null, repo: null, addr: '127.0.0.1' });
    bus.emit(req('/v2/', 1));
    bus.emit(req('/lanyard/api/getStatus', 2));
    bus.emit({ type: 'registry', time: nowIso(), action: 'manifest.push', repo: 'team/app', digest: image.digest, user: null });
    bus.emit(req('/v2/team/app/tags/list', 3));

    const all = await ok<ApiEvent[]>(service, 'recentEvents', [100]);
    assert.equal(all.length, 5);
    assert.equal(all[all.length - 1].type, 'server'); // from the log file, oldest
    assert.deepEqual(
      all.filter((e) => e.type === 'request').map((e) => (e as { path: string }).path),
      ['/v2/team/app/tags/list', '/lanyard/api/getStatus', '/v2/'],
    );
    const registryOnly = await ok<ApiEvent[]>(service, 'recentEvents', [100, { types: ['request'], registryOnly: true }]);
    assert.deepEqual(registryOnly.map((e) => (e as { path: string }).path), ['/v2/team/app/tags/list', '/v2/']);
    assert.equal((await ok<ApiEvent[]>(service, 'recentEvents', [2])).length, 2);
    assert.equal((await ok<ApiEvent[]>(service, 'recentEvents', [0])).length, 1); // clamped to at least 1
    assert.equal((await ok<ApiEvent[]>(service, 'recentEvents', [1e9])).length, 5);
  });
});

describe('API contract', () => {
  it('names one IPC channel and one HTTP path per operation', () => {
    assert.deepEqual([...OPERATION_NAMES].sort(), [
      'addUser',
      'getManifest',
      'getStatus',
      'getTls',
      'installTrust',
      'listRepositories',
      'listTags',
      'listUsers',
      'recentEvents',
      'removeUser',
      'setAnonymousPull',
      'setPassword',
      'setRepoRule',
      'setRole',
      'takeInitialAdmin',
      'trustStatus',
      'uninstallTrust',
      'whoAmI',
    ]);
    for (const op of OPERATION_NAMES) {
      assert.equal(ipcChannel(op), `lanyard:${op}`);
      assert.equal(httpApiPath(op), `/lanyard/api/${op}`);
    }
  });
});

// ------------------------------------------------------------------ HTTP transport

async function listen(app: Koa<any>): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

describe('API over HTTP (registry app)', () => {
  let srv: Awaited<ReturnType<typeof listen>>;
  let store: RegistryStore;
  let bus: EventBus;
  let events: LanyardEvent[];

  before(async () => {
    store = new RegistryStore(tmp('http'));
    await store.init();
    bus = new EventBus();
    events = [];
    bus.subscribe((e) => events.push(e));
    await putImage(store, 'web/app', ['v1']);
    srv = await listen(createApp({ store, bus }));
  });

  after(async () => {
    await srv.close();
    ApiService.for({ store, bus }).close();
  });

  const post = (op: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${srv.url}/lanyard/api/${op}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('answers each operation with the envelope', async () => {
    const res = await post('listTags', { args: ['web/app'] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as ApiResponse<{ name: string }[]>;
    assert.ok(body.ok);
    if (body.ok) assert.deepEqual(body.result.map((t) => t.name), ['v1']);

    const status = (await (await post('getStatus', { args: [] })).json()) as ApiResponse<{ url: string }>;
    assert.ok(status.ok);
    if (status.ok) assert.equal(status.result.url, srv.url); // the address the caller used
    assert.equal((await post('listRepositories', '')).status, 200); // empty body: no args
  });

  it('uses the error table for statuses', async () => {
    const r1 = await post('listTags', { args: ['missing/repo'] });
    assert.equal(r1.status, 404);
    assert.deepEqual(await r1.json(), { ok: false, error: { code: 'NAME_UNKNOWN', message: 'repository name not known to registry', detail: { name: 'missing/repo' } } });
    assert.equal((await post('noSuchOp', { args: [] })).status, 404);
    assert.equal((await post('listTags', '{not json')).status, 400);
    assert.equal((await post('listTags', '[1,2]')).status, 400);
    assert.equal((await post('listTags', { args: 'web/app' })).status, 400);
    assert.equal((await post('listTags', { args: ['x'.repeat(70_000)] })).status, 413);
    assert.ok(events.some((e) => e.type === 'request' && e.path === '/lanyard/api/noSuchOp' && e.status === 404 && e.error === 'UNSUPPORTED'));
  });

  it('refuses cross-site callers and non-JSON bodies', async () => {
    assert.equal((await post('getStatus', { args: [] }, { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
    assert.equal((await post('getStatus', { args: [] }, { 'Sec-Fetch-Site': 'same-site' })).status, 403);
    assert.equal((await post('getStatus', { args: [] }, { Origin: 'http://evil.example' })).status, 403);
    assert.equal((await post('getStatus', { args: [] }, { Origin: srv.url, 'Sec-Fetch-Site': 'same-origin' })).status, 200);
    const form = await fetch(`${srv.url}/lanyard/api/getStatus`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{"args":[]}' });
    assert.equal(form.status, 415);
    const get = await fetch(`${srv.url}/lanyard/api/getStatus`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  it('has a hook for authentication', async () => {
    const app = new Koa();
    const router = new Router();
    const seen: string[] = [];
    registerApi(router as any, { store, bus }, {
      authenticate: async (ctx, op) => {
        seen.push(op);
        if (ctx.get('Authorization') !== 'Bearer good') {
          throw new OciError('UNAUTHORIZED', undefined, undefined, { headers: { 'WWW-Authenticate': 'Lanyard' } });
        }
        return 'alice';
      },
    });
    app.use(router.routes());
    const s = await listen(app);
    try {
      const denied = await fetch(`${s.url}/lanyard/api/getStatus`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      assert.equal(denied.status, 401);
      assert.equal(denied.headers.get('www-authenticate'), 'Lanyard');
      const allowed = await fetch(`${s.url}/lanyard/api/getStatus`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer good' }, body: '{}' });
      assert.equal(allowed.status, 200);
      assert.deepEqual(seen, ['getStatus', 'getStatus']);
    } finally {
      await s.close();
    }
  });
});

// ------------------------------------------------------------------ static UI

describe('static UI', () => {
  let srv: Awaited<ReturnType<typeof listen>>;
  let dir: string;

  before(async () => {
    const root = tmp('ui');
    dir = path.join(root, 'renderer');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>t</title>');
    fs.writeFileSync(path.join(dir, 'app.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dir, '.secret.js'), 'no');
    fs.writeFileSync(path.join(dir, 'notes.exe'), 'no');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'x.js'), 'no');
    fs.writeFileSync(path.join(root, 'outside.js'), 'no');
    fs.symlinkSync(path.join(root, 'outside.js'), path.join(dir, 'link.js'));
    const app = new Koa();
    app.use(serveUi({ dir }));
    app.use((ctx) => {
      ctx.status = 404;
      ctx.body = 'fallthrough';
    });
    srv = await listen(app);
  });

  after(() => srv.close());

  const get = (p: string, method = 'GET') =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      // raw request: fetch would normalise the dot segments away
      const req = http.request(`${srv.url}/`, { method, path: p }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('serves index.html at / and the assets, with the strict CSP', async () => {
    const index = await get('/');
    assert.equal(index.status, 200);
    assert.match(index.headers['content-type'] ?? '', /^text\/html/);
    assert.equal(index.headers['content-security-policy'], UI_CSP);
    assert.match(UI_CSP, /script-src 'self'/);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal(index.headers['x-frame-options'], 'DENY');
    const js = await get('/app.js');
    assert.equal(js.status, 200);
    assert.match(js.headers['content-type'] ?? '', /^text\/javascript/);
    assert.equal(js.body, 'console.log(1)');
    const head = await get('/app.js', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String('console.log(1)'.length));
    assert.equal((await get('/app.js', 'POST')).body, 'fallthrough');
  });

  it('never leaves its folder', async () => {
    for (const p of ['/../outside.js', '/%2e%2e/outside.js', '/..%2foutside.js', '/sub/x.js', '/sub%2fx.js', '/.secret.js', '/notes.exe', '/link.js', '/app.js/', '//app.js', '/app.js%00.html', '/nope.js', '/index.html/..']) {
      const r = await get(p);
      assert.equal(r.body, 'fallthrough', `${p} → ${r.status}`);
    }
  });

  it('picks up a rebuilt UI', async () => {
    fs.writeFileSync(path.join(dir, 'app.css'), 'body{}');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await get('/app.css')).status, 200);
  });
});

// ------------------------------------------------------------------ Electron shell (pure parts)

describe('Electron shell helpers', () => {
  it('accepts IPC only from the app page', () => {
    const app = 'file:///opt/Lanyard/resources/app.asar/dist/renderer/index.html';
    assert.equal(isAppUrl(app, app), true);
    assert.equal(isAppUrl(`${app}#/repositories/team%2Fapp`, app), true);
    assert.equal(isAppUrl('file:///opt/Lanyard/resources/app.asar/dist/renderer/other.html', app), false);
    assert.equal(isAppUrl('file:///tmp/evil/index.html', app), false);
    assert.equal(isAppUrl('http://127.0.0.1:5000/', app), false);
    assert.equal(isAppUrl('https://evil.example/dist/renderer/index.html', app), false);
    assert.equal(isAppUrl('about:blank', app), false);
    assert.equal(isAppUrl('not a url', app), false);
  });

  it('shows a usable registry address', () => {
    assert.equal(displayUrl('http://0.0.0.0:5000'), 'http://127.0.0.1:5000');
    assert.equal(displayUrl('http://[::]:5000'), 'http://[::1]:5000');
    assert.equal(displayUrl('http://192.168.1.4:5000'), 'http://192.168.1.4:5000');
  });

  it('draws the icon as a PNG', () => {
    const png = iconPng(22);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.readUInt32BE(16), 22);
  });

  it('keeps the preload sandbox-safe: it requires only electron', () => {
    const preload = fs.readFileSync(path.join(__dirname, '..', '..', 'main', 'preload.js'), 'utf8');
    const required = [...preload.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    assert.deepEqual(required, ['electron']);
    for (const op of OPERATION_NAMES) assert.ok(preload.includes(`'lanyard:${op}'`), `preload exposes ${op}`);
    assert.doesNotMatch(preload, /\.send\(|exposeInMainWorld\([^)]*ipcRenderer/);
  });
});
