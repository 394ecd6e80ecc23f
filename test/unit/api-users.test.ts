// User management through the typed API over HTTP, on a real registry started with auth on.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startRegistry, type RunningRegistry } from '../../registry/server';
import { resolveServeConfig } from '../../registry/config';
import { ApiService } from '../../registry/api/service';
import { tempDir } from '../helpers/proc';

describe('user management API (HTTP, auth on)', () => {
  let reg: RunningRegistry;
  let dataDir: string;
  let adminPw: string;
  const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
  const call = async (op: string, args: unknown[], auth?: string) => {
    const res = await fetch(`${reg.url}/lanyard/api/${op}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: auth } : {}) },
      body: JSON.stringify({ args }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as { ok: boolean; result?: any; error?: { code: string; message: string } } };
  };

  before(async () => {
    dataDir = tempDir('api-users');
    reg = await startRegistry(resolveServeConfig({ addr: '127.0.0.1:0', data: dataDir, auth: true }, {}), { desktop: true });
    assert.ok(reg.initialAdmin, 'a first admin is created when auth is on and nobody exists');
    adminPw = reg.initialAdmin!.password;
  });
  after(async () => {
    await reg.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('asks anonymous callers to log in with a Basic challenge (browsers can answer it)', async () => {
    const r = await call('listRepositories', []);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    assert.equal(r.body.error?.code, 'UNAUTHORIZED');
  });

  it('lets the admin add users, set roles and rules, and list them', async () => {
    const admin = basic('admin', adminPw);
    const who = await call('whoAmI', [], admin);
    assert.deepEqual(who.body.result, { authEnabled: true, user: 'admin', role: 'admin', isAdmin: true, anonymousPull: false });
    assert.equal((await call('addUser', ['dev', 'dev-password-1', 'push'], admin)).body.result.name, 'dev');
    assert.equal((await call('setRole', ['dev', 'pull'], admin)).body.result.role, 'pull');
    assert.deepEqual((await call('setRepoRule', ['dev', 'team/*', 'push'], admin)).body.result.repos, { 'team/*': 'push' });
    const list = await call('listUsers', [], admin);
    assert.deepEqual(list.body.result.map((u: { name: string }) => u.name), ['admin', 'dev']);
    assert.ok(fs.readFileSync(reg.users.htpasswdPath, 'utf8').includes('dev:$2y$'));
  });

  it('refuses user management to non-admins, but lets a user change their own password', async () => {
    const dev = basic('dev', 'dev-password-1');
    const r = await call('addUser', ['mallory', 'mallory-pass', 'admin'], dev);
    assert.equal(r.status, 403);
    assert.equal(r.body.error?.code, 'DENIED');
    assert.equal((await call('recentEvents', [10], dev)).status, 403);
    assert.equal((await call('setPassword', ['admin', 'hijacked-pass'], dev)).status, 403);
    assert.equal((await call('setPassword', ['dev', 'dev-password-2'], dev)).status, 200);
    assert.equal((await call('whoAmI', [], dev)).status, 401, 'the old password stops working at once');
    assert.equal((await call('whoAmI', [], basic('dev', 'dev-password-2'))).body.result.user, 'dev');
  });

  it('keeps the last admin and reports directory errors as 400 with the reason', async () => {
    const admin = basic('admin', adminPw);
    const r = await call('removeUser', ['admin'], admin);
    assert.equal(r.status, 400);
    assert.match(r.body.error!.message, /last admin/);
    assert.equal((await call('addUser', ['dev', 'whatever-pass', 'push'], admin)).status, 400);
    assert.equal((await call('addUser', ['x', 'short', 'push'], admin)).status, 400);
    assert.equal((await call('addUser', ['x', 'long-enough', 'boss'], admin)).status, 400);
  });

  it('hands the initial password out once, over IPC only', async () => {
    const admin = basic('admin', adminPw);
    assert.equal((await call('takeInitialAdmin', [], admin)).status, 403);
    const service = ApiService.for({ store: reg.store, bus: reg.bus });
    const ipc = { transport: 'ipc' as const, registryUrl: reg.url, user: null };
    assert.deepEqual(await service.takeInitialAdmin(ipc), { name: 'admin', password: adminPw });
    assert.equal(await service.takeInitialAdmin(ipc), null);
  });

  it('audits user changes without secrets', async () => {
    const admin = basic('admin', adminPw);
    await call('removeUser', ['dev'], admin);
    const events = (await call('recentEvents', [200, { types: ['auth'] }], admin)).body.result as Array<{ action: string; user: string; by?: string }>;
    const actions = events.map((e) => `${e.action}:${e.user}`);
    for (const a of ['user.add:dev', 'user.role:dev', 'user.rule:dev', 'user.passwd:dev', 'user.remove:dev', 'login.failure:dev']) assert.ok(actions.includes(a), a);
    const text = JSON.stringify(events);
    for (const secret of [adminPw, 'dev-password-1', 'dev-password-2', '$2y$', 'Basic ']) assert.ok(!text.includes(secret), secret);
  });

  it('turns anonymous pull on and filters what anonymous callers see', async () => {
    const admin = basic('admin', adminPw);
    assert.equal((await call('setAnonymousPull', [true], admin)).body.result.anonymousPull, true);
    const anon = await call('listRepositories', []);
    assert.equal(anon.status, 200);
    assert.equal((await call('listUsers', [])).status, 403);
    await call('setAnonymousPull', [false], admin);
    assert.equal((await call('listRepositories', [])).status, 401);
  });
});
