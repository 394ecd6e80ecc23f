import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultDataDir, parseAddr, parseGoDuration, resolveServeConfig, isLoopback, tlsEnabled } from '../../registry/config';

describe('serve configuration', () => {
  it('parses registry:2 address forms', () => {
    assert.deepEqual(parseAddr('127.0.0.1:5000'), { host: '127.0.0.1', port: 5000 });
    assert.deepEqual(parseAddr(':5001'), { host: '0.0.0.0', port: 5001 });
    assert.deepEqual(parseAddr('[::1]:5002'), { host: '::1', port: 5002 });
    assert.deepEqual(parseAddr('5003'), { host: '0.0.0.0', port: 5003 });
    assert.deepEqual(parseAddr('localhost:0'), { host: 'localhost', port: 0 });
    assert.throws(() => parseAddr('nope'), /invalid address/);
    assert.throws(() => parseAddr('a:70000'), /invalid port/);
  });
  it('flags win over REGISTRY_* variables, which win over defaults', () => {
    const env = { REGISTRY_HTTP_ADDR: ':6000', REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/srv/reg', REGISTRY_STORAGE_DELETE_ENABLED: 'true', HOME: '/home/u' };
    const auto = { mode: 'auto', realm: 'Lanyard Registry', htpasswd: '/srv/reg/auth/htpasswd' };
    const tls = { mode: 'auto', provided: null, extraNames: [] };
    const uploadPurging = { enabled: true, ageMs: 168 * 3_600_000, intervalMs: 24 * 3_600_000 };
    assert.deepEqual(resolveServeConfig({}, env), { host: '0.0.0.0', port: 6000, dataDir: '/srv/reg', deleteEnabled: true, auth: auto, tls, mdns: true, uploadPurging });
    assert.deepEqual(resolveServeConfig({ addr: '127.0.0.1:7000', data: '/d', deleteEnabled: false }, env), {
      host: '127.0.0.1',
      port: 7000,
      dataDir: '/d',
      deleteEnabled: false,
      auth: { ...auto, htpasswd: '/d/auth/htpasswd' },
      tls: { ...tls, extraNames: ['127.0.0.1'] },
      mdns: true,
      uploadPurging,
    });
    const def = resolveServeConfig({}, {});
    assert.equal(def.port, 5000);
    assert.equal(def.host, '127.0.0.1');
    assert.equal(def.deleteEnabled, false);
  });
  it('honours registry:2 auth variables, with flags first', () => {
    const env = { REGISTRY_AUTH: 'htpasswd', REGISTRY_AUTH_HTPASSWD_REALM: 'R', REGISTRY_AUTH_HTPASSWD_PATH: '/etc/reg/htpasswd' };
    assert.deepEqual(resolveServeConfig({ data: '/d' }, env).auth, { mode: 'on', realm: 'R', htpasswd: '/etc/reg/htpasswd' });
    assert.equal(resolveServeConfig({ data: '/d', auth: false }, env).auth.mode, 'off');
    assert.equal(resolveServeConfig({ data: '/d', htpasswd: '/x/h' }, env).auth.htpasswd, '/x/h');
    assert.throws(() => resolveServeConfig({}, { REGISTRY_AUTH: 'token' }), /not supported/);
    assert.equal(resolveServeConfig({ data: '/d', anonymousPull: true }, {}).auth.anonymousPull, true);
  });
  it('serves HTTPS beyond loopback, HTTP on loopback, unless told otherwise', () => {
    assert.equal(tlsEnabled(resolveServeConfig({ addr: '0.0.0.0:5000', data: '/d' }, {})), true);
    assert.equal(tlsEnabled(resolveServeConfig({ addr: '127.0.0.1:5000', data: '/d' }, {})), false);
    assert.equal(tlsEnabled(resolveServeConfig({ addr: '127.0.0.1:5000', data: '/d', tls: true }, {})), true);
    assert.equal(tlsEnabled(resolveServeConfig({ addr: '10.1.2.3:5000', data: '/d', tls: false }, {})), false);
    const byo = resolveServeConfig({ addr: '127.0.0.1:5000', data: '/d' }, { REGISTRY_HTTP_TLS_CERTIFICATE: '/c.pem', REGISTRY_HTTP_TLS_KEY: '/k.pem' });
    assert.deepEqual(byo.tls.provided, { certFile: '/c.pem', keyFile: '/k.pem' });
    assert.equal(tlsEnabled(byo), true);
    assert.deepEqual(resolveServeConfig({ addr: '10.1.2.3:5000', data: '/d' }, { REGISTRY_HTTP_HOST: 'https://reg.example:5000' }).tls.extraNames, ['10.1.2.3', 'https://reg.example:5000']);
  });
  it('uses the per-user data directory of each OS', () => {
    assert.equal(defaultDataDir({ XDG_DATA_HOME: '/x' }, 'linux', '/home/u'), '/x/lanyard');
    assert.equal(defaultDataDir({}, 'linux', '/home/u'), '/home/u/.local/share/lanyard');
    assert.equal(defaultDataDir({}, 'darwin', '/Users/u'), '/Users/u/Library/Application Support/Lanyard');
    assert.equal(defaultDataDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32', 'C:\\Users\\u'), 'C:\\Users\\u\\AppData\\Roaming\\Lanyard');
  });
  it('purges abandoned uploads like registry:2 (168h, every 24h), configurable with its variables', () => {
    const H = 3_600_000;
    assert.deepEqual(resolveServeConfig({}, {}).uploadPurging, { enabled: true, ageMs: 168 * H, intervalMs: 24 * H });
    const c = resolveServeConfig({}, {
      REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED: 'false',
      REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: '72h',
      REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL: '1h30m',
    }).uploadPurging;
    assert.deepEqual(c, { enabled: false, ageMs: 72 * H, intervalMs: 1.5 * H });
    assert.equal(parseGoDuration('90s'), 90_000);
    assert.equal(parseGoDuration('1.5h'), 1.5 * H);
    assert.equal(parseGoDuration('250ms'), 250);
    for (const bad of ['', '10', 'h', '1d', '1h 30m', '-1h']) assert.throws(() => parseGoDuration(bad), /invalid duration/, bad);
    assert.throws(() => resolveServeConfig({}, { REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: '0s' }), /more than zero/);
  });

  it('knows loopback hosts', () => {
    assert.ok(isLoopback('127.0.0.1'));
    assert.ok(isLoopback('::1'));
    assert.ok(isLoopback('localhost'));
    assert.equal(isLoopback('0.0.0.0'), false);
    assert.equal(isLoopback('10.0.0.1'), false);
  });
});
