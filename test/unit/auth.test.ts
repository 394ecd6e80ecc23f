import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { effectiveRole, parseRoles, roleAllows } from '../../registry/auth/roles';
import { formatHtpasswd, hashPassword, parseHtpasswd, verifyPassword } from '../../registry/auth/htpasswd';
import { Lockout } from '../../registry/auth/lockout';
import { UserStore, UserError } from '../../registry/auth/users';
import { AccessGuard } from '../../registry/auth/guard';
import { SettingsStore, parseSettings } from '../../registry/settings';
import { EventBus } from '../../registry/events/bus';
import { tempDir, requireTool } from '../helpers/proc';

describe('roles', () => {
  const entry = { role: 'pull' as const, repos: { 'team/*': 'push' as const, 'team/secret/*': 'none' as const, 'team/exact': 'pull' as const } };
  it('gives users without an entry push (registry:2 behaviour)', () => {
    assert.equal(effectiveRole(undefined, 'any/repo'), 'push');
  });
  it('takes the most specific matching rule', () => {
    assert.equal(effectiveRole(entry, 'other'), 'pull');
    assert.equal(effectiveRole(entry, 'team/app'), 'push');
    assert.equal(effectiveRole(entry, 'team/secret/x'), 'none');
    assert.equal(effectiveRole(entry, 'team/exact'), 'pull');
    assert.equal(effectiveRole({ role: 'admin', repos: { '*': 'none' } }, 'x'), 'admin');
  });
  it('maps roles to actions', () => {
    assert.ok(roleAllows('pull', 'pull'));
    assert.equal(roleAllows('pull', 'push'), false);
    assert.equal(roleAllows('pull', 'delete'), false);
    assert.ok(roleAllows('push', 'delete'));
    assert.equal(roleAllows('none', 'pull'), false);
  });
  it('parses roles.json leniently', () => {
    assert.deepEqual(parseRoles('{"users":{"a":{"role":"admin"},"b":{"role":"boss"},"c":{"role":"pull","repos":{"X":"push","ok/*":"push","y":"owner"}}}}'), {
      users: { a: { role: 'admin' }, c: { role: 'pull', repos: { 'ok/*': 'push' } } },
    });
    assert.deepEqual(parseRoles('not json'), { users: {} });
  });
});

describe('htpasswd', () => {
  it('reads files written by the htpasswd tool, and the tool verifies ours', async () => {
    requireTool('htpasswd');
    const dir = tempDir('htp');
    const file = path.join(dir, 'htpasswd');
    execFileSync('htpasswd', ['-Bbc', '-C', '10', file, 'alice', 'wonderland1']);
    const { users } = parseHtpasswd(fs.readFileSync(file, 'utf8'));
    assert.ok(users.get('alice')!.startsWith('$2y$10$'));
    assert.ok(await verifyPassword('wonderland1', users.get('alice')!));
    assert.equal(await verifyPassword('wrong', users.get('alice')!), false);
    const ours = await hashPassword('builder-pass');
    assert.match(ours, /^\$2y\$10\$/);
    users.set('bob', ours);
    fs.writeFileSync(file, formatHtpasswd(users));
    execFileSync('htpasswd', ['-vb', file, 'bob', 'builder-pass']); // throws on mismatch
    assert.throws(() => execFileSync('htpasswd', ['-vb', file, 'bob', 'nope'], { stdio: 'ignore' }));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  it('ignores non-bcrypt and malformed lines', () => {
    const { users, ignored } = parseHtpasswd('# c\nmd5:$apr1$x$y\n\nbroken\nok:$2y$05$' + 'a'.repeat(53) + '\n');
    assert.deepEqual([...users.keys()], ['ok']);
    assert.deepEqual(ignored, ['md5', '(malformed line)']);
  });
});

describe('lockout', () => {
  it('locks a key after N failures in the window and unlocks after the lock time', () => {
    const lo = new Lockout(() => ({ attempts: 3, windowMs: 1000, lockMs: 5000 }));
    assert.deepEqual(lo.fail(['u'], 0), []);
    assert.deepEqual(lo.fail(['u'], 100), []);
    assert.equal(lo.retryAfter(['u'], 200), 0);
    assert.deepEqual(lo.fail(['u'], 200), ['u']);
    assert.equal(lo.retryAfter(['u', 'other'], 200), 5);
    assert.equal(lo.retryAfter(['u'], 5201), 0);
  });
  it('forgets failures outside the window', () => {
    const lo = new Lockout(() => ({ attempts: 2, windowMs: 1000, lockMs: 5000 }));
    lo.fail(['u'], 0);
    assert.deepEqual(lo.fail(['u'], 1500), []);
  });
});

describe('user store', () => {
  it('adds, changes and removes users; keeps the last admin', async () => {
    const dir = tempDir('users');
    const users = new UserStore(path.join(dir, 'auth', 'htpasswd'));
    assert.equal(users.hasUsers(), false);
    const first = await users.ensureInitialAdmin(() => 'initial-password-1');
    assert.deepEqual(first, { name: 'admin', password: 'initial-password-1' });
    assert.equal(await users.ensureInitialAdmin(() => 'x'), null);
    assert.equal((fs.statSync(path.join(dir, 'auth', 'htpasswd')).mode & 0o777).toString(8), '600');
    assert.ok(!fs.readFileSync(path.join(dir, 'auth', 'htpasswd'), 'utf8').includes('initial-password-1'));
    await users.add('ci', 'ci-password-1', 'pull');
    users.setRepoRule('ci', 'team/*', 'push');
    assert.equal(users.roleOn('ci', 'team/app'), 'push');
    assert.equal(users.roleOn('ci', 'other'), 'pull');
    assert.throws(() => users.setRole('admin', 'push'), UserError);
    assert.throws(() => users.remove('admin'), UserError);
    await assert.rejects(users.add('ci', 'another-pass', 'pull'), UserError);
    await assert.rejects(users.add('bad name', 'another-pass', 'pull'), UserError);
    await assert.rejects(users.add('short', 'x', 'pull'), UserError);
    users.setRole('ci', 'admin');
    users.setRole('admin', 'push'); // no longer the last admin
    users.remove('admin');
    assert.deepEqual(users.list().map((u) => [u.name, u.role]), [['ci', 'admin']]);
    assert.ok(await users.verify('ci', 'ci-password-1'));
    assert.equal(await users.verify('nobody', 'ci-password-1'), false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  it('notices changes made by another process (generation moves)', async () => {
    const dir = tempDir('users2');
    const file = path.join(dir, 'htpasswd');
    const a = new UserStore(file);
    const b = new UserStore(file);
    await a.add('one', 'password-one', 'push');
    const g = b.refresh();
    assert.ok(b.exists('one'));
    a.remove('one');
    assert.ok(b.refresh() > g);
    assert.equal(b.exists('one'), false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('tokens', () => {
  it('are signed, expire, and die with the user or their password', async () => {
    const dir = tempDir('tok');
    const users = new UserStore(path.join(dir, 'htpasswd'));
    await users.add('dev', 'dev-password-1', 'push');
    const guard = new AccessGuard({ users, settings: new SettingsStore(dir), bus: new EventBus(), tokenKeyFile: path.join(dir, 'token.key') });
    const t = guard.issueToken('dev');
    assert.equal(guard.verifyToken(t), 'dev');
    assert.equal(guard.verifyToken(guard.issueToken(null)), null);
    assert.equal(guard.verifyToken(t.slice(0, -2) + 'xx'), undefined);
    assert.equal(guard.verifyToken(guard.issueToken('dev', -10)), undefined);
    await users.passwd('dev', 'dev-password-2');
    assert.equal(guard.verifyToken(t), undefined);
    assert.equal((fs.statSync(path.join(dir, 'token.key')).mode & 0o777).toString(8), '600');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('settings', () => {
  it('parses with defaults', () => {
    assert.deepEqual(parseSettings(null).anonymousPull, false);
    const s = parseSettings('{"anonymousPull":true,"lockout":{"attempts":3,"windowSeconds":10,"lockSeconds":2}}');
    assert.deepEqual(s, { anonymousPull: true, lockout: { attempts: 3, windowMs: 10000, lockMs: 2000 } });
  });
});
