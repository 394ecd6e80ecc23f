// Trust: plans for every OS/distro, script rendering (sh -n), install/uninstall into a
// fake root with installed.json bookkeeping, status checks, elevation hand-off, and the LAN
// join flow (fingerprint pinning against a local HTTPS server).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import {
  buildInstallPlan,
  buildUninstallPlan,
  CA_TOKEN,
  checkAddress,
  containerdHostsDir,
  distroFamily,
  renderCmdScript,
  renderPlanText,
  renderShellScript,
  uninstallPlanFromRecord,
  type Step,
  type TrustInputs,
  type TrustPlan,
} from '../../registry/trust/plan';
import {
  caInfoFromPem,
  detectTrustInputs,
  findNssProfiles,
  parseContainerdConfigPath,
  parseOsRelease,
  registryAddresses,
} from '../../registry/trust/detect';
import { debianHooksRemoval } from '../../registry/trust/plan';
import { finishInstall, installTrust, uninstallTrust, type ElevatedRunner, type RunOptions } from '../../registry/trust/run';
import { readInstalled, recordPath } from '../../registry/trust/record';
import { checkHandshake, trustStatus } from '../../registry/trust/status';
import { joinAddresses, normalizeFingerprint, renderJoinCommand, renderJoinScript } from '../../registry/trust/join';
import { registerTrustRoutes } from '../../registry/trust/routes';
import { runCommand } from '../../registry/trust/exec';

const HAS_CERTUTIL = spawnSync('sh', ['-c', 'command -v certutil'], { encoding: 'utf8' }).status === 0;

function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, env: opts.env ?? process.env, cwd: opts.cwd, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = run(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** sh -n: the script parses. */
function assertShellSyntax(script: string, what: string): void {
  const r = run('sh', ['-n'], { input: script });
  assert.equal(r.code, 0, `${what}: sh -n failed: ${r.stderr}`);
}

function makeCa(dir: string, cn: string): { pem: string; key: string } {
  fs.mkdirSync(dir, { recursive: true });
  const pem = path.join(dir, 'ca.pem');
  const key = path.join(dir, 'ca.key');
  must('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', pem, '-days', '30', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { pem, key };
}

function makeLeaf(dir: string, ca: { pem: string; key: string }): { cert: string; key: string } {
  const key = path.join(dir, 'leaf.key');
  const csr = path.join(dir, 'leaf.csr');
  const cert = path.join(dir, 'leaf.pem');
  const ext = path.join(dir, 'leaf.ext');
  fs.writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  must('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1']);
  must('openssl', ['x509', '-req', '-in', csr, '-CA', ca.pem, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '30', '-extfile', ext]);
  return { cert, key };
}

/** Every path under dir with its kind and content, for "nothing else was touched" checks. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  (function walk(d: string) {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isSymbolicLink()) out.set(rel, `link:${fs.readlinkSync(p)}`);
      else if (e.isDirectory()) {
        out.set(rel, `dir:${(fs.statSync(p).mode & 0o777).toString(8)}`);
        walk(p);
      } else out.set(rel, `file:${(fs.statSync(p).mode & 0o777).toString(8)}:${fs.readFileSync(p, 'utf8')}`);
    }
  })(dir);
  return out;
}

function steps(plan: TrustPlan, targetId: string): Step[] {
  const t = plan.targets.find((x) => x.id === targetId);
  assert.ok(t, `no target ${targetId} in ${plan.targets.map((x) => x.id).join(', ')}`);
  return t.steps;
}

function shape(s: Step): unknown {
  switch (s.kind) {
    case 'mkdir':
      return ['mkdir', s.path];
    case 'copy':
      return ['copy', s.src, s.dest, s.mode];
    case 'write':
      return ['write', s.dest];
    case 'run':
      return ['run', s.argv, (s.undo ?? []).map((u) => u.argv)];
    case 'remove':
      return ['remove', s.path, 'ca' in s.expect ? 'ca' : 'text'];
    case 'restore':
      return ['restore', s.backup, s.dest];
    case 'rmdir':
      return ['rmdir', s.path];
  }
}

let tmp: string;
let ca: { pem: string; key: string };
let caPemText: string;
let caName: string;
let fingerprint: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lanyard-trust-test-'));
  ca = makeCa(path.join(tmp, 'ca'), 'Lanyard Test CA');
  caPemText = fs.readFileSync(ca.pem, 'utf8');
  const info = caInfoFromPem(caPemText);
  caName = info.caName;
  fingerprint = info.fingerprint;
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function baseInputs(extra: Partial<TrustInputs> = {}): TrustInputs {
  return {
    platform: 'linux',
    distro: { id: 'debian' },
    caPem: ca.pem,
    caName,
    addresses: ['myhost:5000', '192.168.1.5:5000'],
    stageDir: '/tmp/lanyard-trust-x',
    ...extra,
  };
}

describe('trust plans', () => {
  const distros: [string, string[], string, string, string[], string[]][] = [
    // id, id_like, anchors dir, extension, refresh, refresh after remove
    ['debian', [], '/usr/local/share/ca-certificates', '.crt', ['update-ca-certificates'], ['update-ca-certificates', '--fresh']],
    ['ubuntu', ['debian'], '/usr/local/share/ca-certificates', '.crt', ['update-ca-certificates'], ['update-ca-certificates', '--fresh']],
    ['linuxmint', ['ubuntu', 'debian'], '/usr/local/share/ca-certificates', '.crt', ['update-ca-certificates'], ['update-ca-certificates', '--fresh']],
    ['alpine', [], '/usr/local/share/ca-certificates', '.crt', ['update-ca-certificates'], ['update-ca-certificates', '--fresh']],
    ['rhel', ['fedora'], '/etc/pki/ca-trust/source/anchors', '.pem', ['update-ca-trust', 'extract'], ['update-ca-trust', 'extract']],
    ['fedora', [], '/etc/pki/ca-trust/source/anchors', '.pem', ['update-ca-trust', 'extract'], ['update-ca-trust', 'extract']],
    ['centos', ['rhel', 'fedora'], '/etc/pki/ca-trust/source/anchors', '.pem', ['update-ca-trust', 'extract'], ['update-ca-trust', 'extract']],
    ['rocky', ['rhel', 'centos', 'fedora'], '/etc/pki/ca-trust/source/anchors', '.pem', ['update-ca-trust', 'extract'], ['update-ca-trust', 'extract']],
    ['arch', [], '/etc/ca-certificates/trust-source/anchors', '.crt', ['trust', 'extract-compat'], ['trust', 'extract-compat']],
    ['manjaro', ['arch'], '/etc/ca-certificates/trust-source/anchors', '.crt', ['trust', 'extract-compat'], ['trust', 'extract-compat']],
    ['opensuse-leap', ['suse', 'opensuse'], '/usr/share/pki/trust/anchors', '.pem', ['update-ca-certificates'], ['update-ca-certificates']],
    ['sles', [], '/usr/share/pki/trust/anchors', '.pem', ['update-ca-certificates'], ['update-ca-certificates']],
  ];
  for (const [id, like, dir, ext, refresh, refreshAfter] of distros) {
    it(`puts the CA into the ${id} trust store`, () => {
      const plan = buildInstallPlan(baseInputs({ distro: { id, idLike: like } }));
      const dest = `${dir}/${caName}${ext}`;
      // Debian's hooks (Java's keystore) only hear of a removed local CA when told directly
      const hooks = dir === '/usr/local/share/ca-certificates' ? [debianHooksRemoval(caName).argv] : [];
      assert.deepEqual(steps(plan, 'os-store').map(shape), [
        ['mkdir', dir],
        ['copy', CA_TOKEN, dest, '0644'],
        ['run', refresh, [refreshAfter, ...hooks]],
      ]);
      const mk = steps(plan, 'os-store')[0];
      assert.equal(mk.kind, 'mkdir');
      if (mk.kind === 'mkdir') assert.equal(mk.dirs.join(' '), dir.split('/').filter(Boolean).map((_, i, a) => '/' + a.slice(0, i + 1).join('/')).join(' '));
      const un = buildUninstallPlan(baseInputs({ distro: { id, idLike: like } }));
      assert.deepEqual(steps(un, 'os-store').map(shape), [
        ['remove', dest, 'ca'],
        ['restore', `${dest}.lanyard-backup`, dest],
        ['run', refreshAfter, []],
        ...hooks.map((h) => ['run', h, []]),
      ]);
    });
  }

  it('maps os-release words to families (ID first, then ID_LIKE)', () => {
    assert.equal(distroFamily({ id: 'pop', idLike: ['ubuntu', 'debian'] }), 'debian');
    assert.equal(distroFamily({ id: 'amzn', idLike: ['centos', 'rhel', 'fedora'] }), 'rhel');
    assert.equal(distroFamily({ id: 'opensuse-tumbleweed', idLike: ['opensuse', 'suse'] }), 'suse');
    assert.equal(distroFamily({ id: 'gentoo' }), null);
    assert.equal(distroFamily(null), null);
  });

  it('leaves the OS store alone on an unknown distribution, with a note', () => {
    const plan = buildInstallPlan(baseInputs({ distro: { id: 'gentoo' } }));
    assert.equal(plan.targets.some((t) => t.kind === 'os-store'), false);
    assert.match(plan.notes.join('\n'), /Unknown Linux distribution \(ID=gentoo\)/);
  });

  it('gives Docker and podman a ca.crt per address, containerd a hosts.toml only with config_path', () => {
    const plan = buildInstallPlan(baseInputs());
    assert.deepEqual(
      plan.targets.map((t) => t.id),
      ['os-store', 'docker:myhost:5000', 'docker:192.168.1.5:5000', 'podman:myhost:5000', 'podman:192.168.1.5:5000'],
    );
    assert.deepEqual(steps(plan, 'docker:myhost:5000').map(shape), [
      ['mkdir', '/etc/docker/certs.d/myhost:5000'],
      ['copy', CA_TOKEN, '/etc/docker/certs.d/myhost:5000/ca.crt', '0644'],
    ]);
    assert.deepEqual(steps(plan, 'podman:192.168.1.5:5000').map(shape), [
      ['mkdir', '/etc/containers/certs.d/192.168.1.5:5000'],
      ['copy', CA_TOKEN, '/etc/containers/certs.d/192.168.1.5:5000/ca.crt', '0644'],
    ]);
    assert.match(plan.notes.join('\n'), /config_path is not set/);
    assert.ok(plan.targets.every((t) => t.elevated));

    const withCtr = buildInstallPlan(baseInputs({ containerdConfigPath: '/etc/containerd/certs.d:/etc/docker/certs.d' }));
    const ctr = steps(withCtr, 'containerd:myhost:5000');
    assert.deepEqual(ctr.map(shape), [
      ['mkdir', '/etc/containerd/certs.d/myhost:5000'],
      ['copy', CA_TOKEN, '/etc/containerd/certs.d/myhost:5000/ca.crt', '0644'],
      ['write', '/etc/containerd/certs.d/myhost:5000/hosts.toml'],
    ]);
    const w = ctr[2];
    assert.equal(w.kind, 'write');
    if (w.kind === 'write') {
      assert.match(w.content, /^server = "https:\/\/myhost:5000"$/m);
      assert.match(w.content, /^\[host\."https:\/\/myhost:5000"\]$/m);
      assert.match(w.content, /^ {2}ca = "\/etc\/containerd\/certs\.d\/myhost:5000\/ca\.crt"$/m);
    }
    assert.equal(containerdHostsDir(' /srv/hosts : /etc/docker/certs.d'), '/srv/hosts');
    assert.equal(containerdHostsDir(''), null);
    assert.equal(containerdHostsDir('relative/dir'), null);
  });

  it('adds NSS databases as the user when certutil exists, else only a note', () => {
    const profiles = ['/home/u/.pki/nssdb', '/home/u/.mozilla/firefox/ab12.default-release'];
    const plan = buildInstallPlan(baseInputs({ nssProfiles: profiles, certutil: true }));
    for (const p of profiles) {
      const t = plan.targets.find((x) => x.id === `nss:${p}`);
      assert.ok(t);
      assert.equal(t.elevated, false);
      assert.deepEqual(t.steps.map(shape), [
        ['run', ['certutil', '-A', '-d', `sql:${p}`, '-t', 'C,,', '-n', caName, '-i', CA_TOKEN], [['certutil', '-D', '-d', `sql:${p}`, '-n', caName]]],
      ]);
    }
    const un = buildUninstallPlan(baseInputs({ nssProfiles: profiles, certutil: true }));
    assert.deepEqual(steps(un, `nss:${profiles[0]}`).map(shape), [['run', ['certutil', '-D', '-d', `sql:${profiles[0]}`, '-n', caName], []]]);
    const none = buildInstallPlan(baseInputs({ nssProfiles: profiles, certutil: false }));
    assert.equal(none.targets.some((t) => t.kind === 'nss'), false);
    assert.match(none.notes.join('\n'), /certutil is not installed.*libnss3-tools/);
  });

  it('uses the System keychain on macOS', () => {
    const inputs = baseInputs({ platform: 'darwin', distro: null, caSha1: 'ab:cd:ef', nssProfiles: ['/Users/u/Library/Application Support/Firefox/Profiles/x.default'], certutil: true });
    const plan = buildInstallPlan(inputs);
    assert.deepEqual(plan.targets.map((t) => t.id), ['keychain', 'nss:/Users/u/Library/Application Support/Firefox/Profiles/x.default']);
    assert.deepEqual(steps(plan, 'keychain').map(shape), [
      ['run', ['security', 'add-trusted-cert', '-d', '-r', 'trustRoot', '-k', '/Library/Keychains/System.keychain', CA_TOKEN], [
        ['security', 'remove-trusted-cert', '-d', CA_TOKEN],
        ['security', 'delete-certificate', '-Z', 'ABCDEF', '/Library/Keychains/System.keychain'],
      ]],
    ]);
    const un = buildUninstallPlan(inputs);
    assert.deepEqual(steps(un, 'keychain').map(shape), [
      ['run', ['security', 'remove-trusted-cert', '-d', CA_TOKEN], []],
      ['run', ['security', 'delete-certificate', '-Z', 'ABCDEF', '/Library/Keychains/System.keychain'], []],
    ]);
    const script = renderShellScript(plan, 'elevated')!;
    assert.match(script, /^step 1 t1 security add-trusted-cert -d -r trustRoot -k \/Library\/Keychains\/System\.keychain "\$CA"$/m);
    assertShellSyntax(script, 'macOS install');
    assertShellSyntax(renderShellScript(un, 'elevated')!, 'macOS uninstall');
    assertShellSyntax(renderShellScript(plan, 'user')!, 'macOS NSS');
  });

  it('uses the machine Root store on Windows', () => {
    const inputs = baseInputs({ platform: 'win32', distro: null, caSerial: '0A:1B:2C', stageDir: 'C:\\Users\\u\\AppData\\Local\\Temp\\lanyard-trust-1' });
    const plan = buildInstallPlan(inputs);
    assert.equal(plan.stage.file, 'C:\\Users\\u\\AppData\\Local\\Temp\\lanyard-trust-1\\ca.crt');
    assert.deepEqual(plan.targets.map((t) => t.id), ['windows-root']);
    assert.deepEqual(steps(plan, 'windows-root').map(shape), [
      ['run', ['certutil', '-addstore', '-f', 'Root', CA_TOKEN], [['certutil', '-delstore', 'Root', '0a1b2c']]],
    ]);
    const cmd = renderCmdScript(plan)!;
    assert.match(cmd, /^certutil -addstore -f Root C:\\Users\\u\\AppData\\Local\\Temp\\lanyard-trust-1\\ca\.crt\r$/m);
    assert.match(cmd, /^if errorlevel 1 \(echo @@lanyard 1 failed 1& set failed=1\) else \(echo @@lanyard 1 ok\)\r$/m);
    const un = buildUninstallPlan(inputs);
    assert.match(renderCmdScript(un)!, /^certutil -delstore Root 0a1b2c\r$/m);
    assert.throws(() => renderShellScript(plan), /cmd scripts/);
    const noSerial = buildInstallPlan(baseInputs({ platform: 'win32', distro: null }));
    assert.match(noSerial.notes.join('\n'), /serial number is unknown/);
  });

  it('puts every system path under the root prefix', () => {
    const plan = buildInstallPlan(baseInputs({ root: '/tmp/x', containerdConfigPath: '/etc/containerd/certs.d' }));
    for (const t of plan.targets) {
      for (const s of t.steps) {
        if (s.kind === 'mkdir') assert.ok(s.dirs.every((d) => d.startsWith('/tmp/x/')), s.dirs.join(' '));
        if (s.kind === 'copy' || s.kind === 'write') assert.ok(s.dest.startsWith('/tmp/x/'), s.dest);
      }
    }
    const w = steps(plan, 'containerd:myhost:5000')[2];
    if (w.kind === 'write') assert.match(w.content, /ca = "\/tmp\/x\/etc\/containerd\/certs\.d\/myhost:5000\/ca\.crt"/);
    const mk = steps(plan, 'docker:myhost:5000')[0];
    if (mk.kind === 'mkdir') assert.deepEqual(mk.dirs, ['/tmp/x/etc', '/tmp/x/etc/docker', '/tmp/x/etc/docker/certs.d', '/tmp/x/etc/docker/certs.d/myhost:5000']);
  });

  it('rejects addresses and names that could not be folder names', () => {
    for (const bad of ['myhost', 'a b:5000', '../x:5000', 'h:99999', 'h:5000/x', "h'x:5000", ':5000']) {
      assert.throws(() => buildInstallPlan(baseInputs({ addresses: [bad] })), /invalid registry address/, bad);
    }
    assert.equal(checkAddress('[fd00::1]:5000'), '[fd00::1]:5000');
    assert.throws(() => buildInstallPlan(baseInputs({ caName: '../evil' })), /invalid CA name/);
    assert.throws(() => buildInstallPlan(baseInputs({ nssProfiles: ['/a\nb'], certutil: true })), /invalid NSS profile path/);
  });

  it('renders text that says what will happen, step by step', () => {
    const plan = buildInstallPlan(baseInputs({ nssProfiles: ['/home/u/.pki/nssdb'], certutil: true }));
    const text = renderPlanText(plan);
    assert.match(text, new RegExp(`Install the Lanyard CA "${caName}" \\(linux\\)`));
    assert.match(text, /First, as you: copy .*ca\.pem to \/tmp\/lanyard-trust-x\/ca\.crt/);
    assert.match(text, /With administrator rights \(one prompt\):/);
    assert.match(text, /As you \(no administrator rights\):/);
    assert.match(text, /3\. Rebuild the system CA bundle: update-ca-certificates/);
    assert.match(text, /-i \/tmp\/lanyard-trust-x\/ca\.crt/);
    for (const t of plan.targets) for (const s of t.steps) assert.ok(text.includes(`${s.id}. `), `step ${s.id} is listed`);
  });
});

describe('trust scripts', () => {
  it('renders install and uninstall scripts that sh accepts, for every distro', () => {
    for (const id of ['debian', 'fedora', 'arch', 'sles', 'gentoo']) {
      const inputs = baseInputs({
        distro: { id },
        containerdConfigPath: '/etc/containerd/certs.d',
        nssProfiles: ["/home/o'brien/.mozilla/firefox/a b.default"],
        certutil: true,
        stageDir: "/tmp/stage with space's",
      });
      for (const plan of [buildInstallPlan(inputs), buildUninstallPlan(inputs)]) {
        const el = renderShellScript(plan, 'elevated')!;
        assertShellSyntax(el, `${id} ${plan.action} elevated`);
        assert.match(el, /^set -e$/m);
        assert.match(el, /^CA='\/tmp\/stage with space'\\''s\/ca\.crt'$/m);
        const user = renderShellScript(plan, 'user')!;
        assertShellSyntax(user, `${id} ${plan.action} user`);
        assert.match(user, /sql:\/home\/o'\\''brien\/\.mozilla\/firefox\/a b\.default'/);
        // one step line per step, in order
        const ids = [...el.matchAll(/^step (\d+) /gm), ...user.matchAll(/^step (\d+) /gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
        assert.deepEqual(ids, plan.targets.flatMap((t) => t.steps.map((s) => s.id)).sort((a, b) => a - b));
      }
    }
  });

  it('returns no script for a part without steps', () => {
    const plan = buildInstallPlan(baseInputs());
    assert.equal(renderShellScript(plan, 'user'), null);
  });
});

describe('trust detection', () => {
  it('parses os-release', () => {
    assert.deepEqual(parseOsRelease('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'), { id: 'ubuntu', idLike: ['debian'] });
    assert.deepEqual(parseOsRelease('ID="rocky"\nID_LIKE="rhel centos fedora"\n'), { id: 'rocky', idLike: ['rhel', 'centos', 'fedora'] });
    assert.deepEqual(parseOsRelease("ID='opensuse-leap'\n"), { id: 'opensuse-leap', idLike: [] });
  });

  it("finds containerd's config_path (config version 2 and 3)", () => {
    const v2 = `version = 2\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri".registry]\n    config_path = "/etc/containerd/certs.d"\n`;
    assert.equal(parseContainerdConfigPath(v2), '/etc/containerd/certs.d');
    const v3 = `version = 3\n[plugins.'io.containerd.cri.v1.images'.registry]\n  config_path = '/etc/containerd/certs.d:/etc/docker/certs.d'\n`;
    assert.equal(parseContainerdConfigPath(v3), '/etc/containerd/certs.d:/etc/docker/certs.d');
    assert.equal(parseContainerdConfigPath(`[plugins."io.containerd.grpc.v1.cri".registry]\n  # config_path = "/x"\n  config_path = ""\n`), null);
    assert.equal(parseContainerdConfigPath(`[plugins."io.containerd.internal.v1.opt"]\n  config_path = "/nope"\n`), null);
    assert.equal(parseContainerdConfigPath(`version = 2\n[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "/usr/lib/cni"\n`), null);
  });

  it('lists the addresses clients use', () => {
    const interfaces = {
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true } as os.NetworkInterfaceInfo],
      eth0: [
        { address: '192.168.1.5', family: 'IPv4', internal: false } as os.NetworkInterfaceInfo,
        { address: 'fe80::1', family: 'IPv6', internal: false } as os.NetworkInterfaceInfo,
      ],
      wlan0: [{ address: '10.0.0.7', family: 'IPv4', internal: false } as os.NetworkInterfaceInfo],
    };
    assert.deepEqual(registryAddresses('0.0.0.0', 5000, { hostname: 'Laptop', interfaces }), [
      'laptop:5000', 'laptop.local:5000', '192.168.1.5:5000', '10.0.0.7:5000', 'localhost:5000', '127.0.0.1:5000',
    ]);
    assert.deepEqual(registryAddresses('::', 5001, { hostname: 'box.example.com', interfaces, loopback: false }), ['box.example.com:5001', '192.168.1.5:5001', '10.0.0.7:5001']);
    assert.deepEqual(registryAddresses('127.0.0.1', 5000), ['localhost:5000', '127.0.0.1:5000']);
    assert.deepEqual(registryAddresses('127.0.0.1', 5000, { loopback: false }), []);
    assert.deepEqual(registryAddresses('192.168.1.5', 443), ['192.168.1.5:443']);
  });

  it('reads the CA fingerprint like openssl does', () => {
    const out = must('openssl', ['x509', '-in', ca.pem, '-noout', '-fingerprint', '-sha256']);
    const info = caInfoFromPem(caPemText);
    assert.equal(info.fingerprintColon, out.trim().split('=')[1]);
    assert.equal(info.caName, `lanyard-${info.fingerprint.slice(0, 16)}`);
    const serial = must('openssl', ['x509', '-in', ca.pem, '-noout', '-serial']).trim().split('=')[1].toLowerCase();
    assert.equal(info.serial.replace(/^0+/, ''), serial.replace(/^0+/, ''));
  });

  it('finds NSS databases and detects a fake root', async () => {
    const home = path.join(tmp, 'detect-home');
    const root = path.join(tmp, 'detect-root');
    for (const d of ['.pki/nssdb', '.mozilla/firefox/a1.default', '.mozilla/firefox/b2.other', 'snap/firefox/common/.mozilla/firefox/c3.snap']) {
      fs.mkdirSync(path.join(home, d), { recursive: true });
    }
    for (const d of ['.pki/nssdb', '.mozilla/firefox/a1.default', 'snap/firefox/common/.mozilla/firefox/c3.snap']) fs.writeFileSync(path.join(home, d, 'cert9.db'), '');
    assert.deepEqual(await findNssProfiles(home, 'linux'), [
      path.join(home, '.pki/nssdb'),
      path.join(home, '.mozilla/firefox/a1.default'),
      path.join(home, 'snap/firefox/common/.mozilla/firefox/c3.snap'),
    ]);
    fs.mkdirSync(path.join(root, 'etc/containerd'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/os-release'), 'ID=fedora\n');
    fs.writeFileSync(path.join(root, 'etc/containerd/config.toml'), '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n');
    const bin = path.join(tmp, 'detect-bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'certutil'), '#!/bin/sh\n', { mode: 0o755 });
    const inputs = await detectTrustInputs({ caPem: ca.pem, addresses: ['h:1'], root, home, env: { PATH: bin }, platform: 'linux' });
    assert.equal(inputs.caName, caName);
    assert.deepEqual(inputs.distro, { id: 'fedora', idLike: [] });
    assert.equal(inputs.containerdConfigPath, '/etc/containerd/certs.d');
    assert.equal(inputs.certutil, true);
    assert.equal(inputs.nssProfiles?.length, 3);
    const none = await detectTrustInputs({ caPem: ca.pem, addresses: ['h:1'], root: path.join(tmp, 'empty-root'), home, env: { PATH: '/nonexistent' }, platform: 'linux' });
    assert.equal(none.distro, null);
    assert.equal(none.containerdConfigPath, null);
    assert.equal(none.certutil, false);
  });
});

// -----------------------------------------------------------------------------------------
// Install and uninstall for real, into a fake root

interface Fixture {
  root: string;
  home: string;
  data: string;
  bin: string;
  log: string;
  env: NodeJS.ProcessEnv;
  nssdb: string | null;
}

const ADDR_A = 'registry.lan:5000';
const ADDR_B = '10.1.2.3:5000';

function makeFixture(name: string): Fixture {
  const base = path.join(tmp, name);
  const root = path.join(base, 'fake root');
  const home = path.join(base, 'home');
  const data = path.join(base, 'data');
  const bin = path.join(base, 'bin');
  const log = path.join(base, 'commands.log');
  for (const d of [root, home, data, bin]) fs.mkdirSync(d, { recursive: true });
  const systemCa = makeCa(path.join(base, 'system-ca'), 'Some System CA');
  // a stand-in for update-ca-certificates: logs its arguments and rebuilds the bundle
  fs.writeFileSync(
    path.join(bin, 'update-ca-certificates'),
    `#!/bin/sh
echo "update-ca-certificates $*" >> "$STUB_LOG"
out="$FAKE_ROOT/etc/ssl/certs/ca-certificates.crt"
cat ${JSON.stringify(systemCa.pem)} > "$out"
for f in "$FAKE_ROOT"/usr/local/share/ca-certificates/*.crt; do [ -f "$f" ] && cat "$f" >> "$out"; done
exit "\${STUB_FAIL:-0}"
`,
    { mode: 0o755 },
  );
  const w = (rel: string, content: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  };
  w('etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n');
  w('etc/containerd/config.toml', 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n');
  w('etc/ssl/certs/ca-certificates.crt', fs.readFileSync(systemCa.pem, 'utf8'));
  // someone else's registry: must stay untouched
  w('etc/docker/certs.d/other.example:443/ca.crt', 'OTHER CA\n');
  // the folder for A exists already, with a client certificate in it
  w(`etc/docker/certs.d/${ADDR_A}/client.cert`, 'CLIENT CERT\n');
  // podman has a different CA for A (moved aside, then put back) and our CA alone for B
  w(`etc/containers/certs.d/${ADDR_A}/ca.crt`, 'A DIFFERENT CA\n');
  w(`etc/containers/certs.d/${ADDR_B}/ca.crt`, caPemText);
  let nssdb: string | null = null;
  if (HAS_CERTUTIL) {
    nssdb = path.join(home, '.pki', 'nssdb');
    fs.mkdirSync(nssdb, { recursive: true });
    must('certutil', ['-N', '-d', `sql:${nssdb}`, '--empty-password']);
  }
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, STUB_LOG: log, FAKE_ROOT: root };
  return { root, home, data, bin, log, env, nssdb };
}

async function fixtureInputs(f: Fixture): Promise<TrustInputs> {
  return detectTrustInputs({ caPem: ca.pem, addresses: [ADDR_A, ADDR_B], root: f.root, home: f.home, env: f.env, platform: 'linux' });
}

function runOpts(f: Fixture, extra: Partial<RunOptions> & { fallback?: TrustInputs } = {}): RunOptions & { fallback?: TrustInputs } {
  return { dataDir: f.data, elevated: true, env: f.env, tmpDir: path.join(f.root, '..'), ...extra };
}

describe('trust install and uninstall (fake root)', () => {
  it('installs, records exactly what it added, and uninstall puts everything back', async () => {
    const f = makeFixture('full');
    const before = snapshot(f.root);
    const inputs = await fixtureInputs(f);
    const r = await installTrust(inputs, runOpts(f));
    assert.equal(r.ok, true, JSON.stringify(r.targets.filter((t) => t.state !== 'ok'), null, 2) + r.stderr);
    assert.ok(r.targets.every((t) => t.state === 'ok'));
    const R = (rel: string) => path.join(f.root, rel);

    // the files are there, with our CA
    for (const rel of [
      `usr/local/share/ca-certificates/${caName}.crt`,
      `etc/docker/certs.d/${ADDR_A}/ca.crt`,
      `etc/docker/certs.d/${ADDR_B}/ca.crt`,
      `etc/containers/certs.d/${ADDR_A}/ca.crt`,
      `etc/containers/certs.d/${ADDR_B}/ca.crt`,
      `etc/containerd/certs.d/${ADDR_A}/ca.crt`,
      `etc/containerd/certs.d/${ADDR_B}/ca.crt`,
    ]) {
      assert.equal(fs.readFileSync(R(rel), 'utf8'), caPemText, rel);
      assert.equal(fs.statSync(R(rel)).mode & 0o777, 0o644, rel);
    }
    assert.equal(fs.readFileSync(R(`etc/containers/certs.d/${ADDR_A}/ca.crt.lanyard-backup`), 'utf8'), 'A DIFFERENT CA\n');
    assert.match(fs.readFileSync(R(`etc/containerd/certs.d/${ADDR_A}/hosts.toml`), 'utf8'), new RegExp(`ca = "${R(`etc/containerd/certs.d/${ADDR_A}/ca.crt`).replace(/[.]/g, '\\.')}"`));
    assert.equal(fs.readFileSync(f.log, 'utf8'), 'update-ca-certificates \n');
    if (f.nssdb) must('certutil', ['-L', '-d', `sql:${f.nssdb}`, '-n', caName]);

    // the record
    const rec = (await readInstalled(f.data)).installs;
    assert.equal(rec.length, 1);
    assert.equal(rec[0].caName, caName);
    assert.equal(rec[0].fingerprint, fingerprint);
    assert.equal(fs.readFileSync(rec[0].caCopy, 'utf8'), caPemText);
    assert.deepEqual(new Set(rec[0].dirs), new Set([
      R('usr'), R('usr/local'), R('usr/local/share'), R('usr/local/share/ca-certificates'),
      R(`etc/docker/certs.d/${ADDR_B}`),
      R('etc/containerd/certs.d'), R(`etc/containerd/certs.d/${ADDR_A}`), R(`etc/containerd/certs.d/${ADDR_B}`),
    ]));
    const files = new Map(rec[0].targets.flatMap((t) => t.files.map((x) => [path.relative(f.root, x.path), x] as const)));
    assert.equal(files.get(`etc/docker/certs.d/${ADDR_A}/ca.crt`)?.how, 'created');
    assert.equal(files.get(`etc/containers/certs.d/${ADDR_A}/ca.crt`)?.backup, R(`etc/containers/certs.d/${ADDR_A}/ca.crt.lanyard-backup`));
    assert.equal(files.get(`etc/containers/certs.d/${ADDR_B}/ca.crt`)?.how, 'adopted');
    assert.equal(files.get(`etc/containers/certs.d/${ADDR_B}/ca.crt`)?.sole, true);
    assert.deepEqual(files.get(`etc/containerd/certs.d/${ADDR_B}/hosts.toml`)?.expect, { text: fs.readFileSync(R(`etc/containerd/certs.d/${ADDR_B}/hosts.toml`), 'utf8') });
    assert.equal(files.size, 9); // OS store 1, Docker 2, podman 2, containerd 2 × (ca.crt + hosts.toml)
    const osStore = rec[0].targets.find((t) => t.id === 'os-store')!;
    assert.deepEqual(osStore.undo.map((u) => u.argv), [['update-ca-certificates', '--fresh'], debianHooksRemoval(caName).argv]);
    if (f.nssdb) assert.deepEqual(rec[0].targets.find((t) => t.kind === 'nss')?.undo.map((u) => u.argv), [['certutil', '-D', '-d', `sql:${f.nssdb}`, '-n', caName]]);

    // status: everything installed (the stub rebuilt the fake bundle with our CA)
    const st = await trustStatus(inputs, { env: f.env });
    assert.deepEqual(st.filter((s) => s.state !== 'installed'), []);
    assert.equal(st.length, 1 + 2 * 3 + (f.nssdb ? 1 : 0));

    // installing again changes nothing and keeps the record's "created"
    const again = await installTrust(inputs, runOpts(f));
    assert.equal(again.ok, true);
    const oneStep = again.targets.find((t) => t.id === `docker:${ADDR_A}`)!.steps[1];
    assert.equal(oneStep.detail, 'already in place');
    const rec2 = (await readInstalled(f.data)).installs;
    assert.equal(rec2.length, 1);
    assert.deepEqual(rec2[0].dirs, rec[0].dirs);
    assert.deepEqual(rec2[0].targets.map((t) => t.files.map((x) => [x.path, x.how, x.backup ?? null, x.sole ?? false])), rec[0].targets.map((t) => t.files.map((x) => [x.path, x.how, x.backup ?? null, x.sole ?? false])));

    // uninstall: back to the snapshot, except the folder that held nothing but our CA
    const un = await uninstallTrust(runOpts(f));
    assert.equal(un.length, 1);
    assert.equal(un[0].ok, true, JSON.stringify(un[0].targets.filter((t) => t.state !== 'ok'), null, 2) + un[0].stderr);
    const expected = new Map(before);
    expected.delete(`etc/containers/certs.d/${ADDR_B}`);
    expected.delete(`etc/containers/certs.d/${ADDR_B}/ca.crt`);
    assert.deepEqual(snapshot(f.root), expected);
    assert.equal(fs.readFileSync(f.log, 'utf8'), 'update-ca-certificates \nupdate-ca-certificates \nupdate-ca-certificates --fresh\n');
    if (f.nssdb) assert.notEqual(run('certutil', ['-L', '-d', `sql:${f.nssdb}`, '-n', caName]).code, 0);
    assert.equal(fs.existsSync(recordPath(f.data)), false);
    assert.equal(fs.existsSync(path.join(f.data, 'trust')), false);
    // nothing left behind in the temp dir either
    assert.deepEqual(fs.readdirSync(path.join(f.root, '..')).filter((n) => n.startsWith('lanyard-trust-')), []);

    // status after uninstall: missing everywhere, except where the other CA is back
    const st2 = await trustStatus(inputs, { env: f.env });
    assert.deepEqual(st2.filter((s) => s.state !== 'missing').map((s) => [s.id, s.state]), [[`podman:${ADDR_A}`, 'mismatch']]);
    // and a second uninstall has nothing to do
    assert.deepEqual(await uninstallTrust(runOpts(f)), []);
  });

  it('reports each failed step with its reason, records only what happened, and keeps what changed', async () => {
    const f = makeFixture('failing');
    const R = (rel: string) => path.join(f.root, rel);
    // a file where podman's folder for B should be: that target fails
    fs.rmSync(R(`etc/containers/certs.d/${ADDR_B}`), { recursive: true });
    fs.writeFileSync(R(`etc/containers/certs.d/${ADDR_B}`), 'not a folder\n');
    const before = snapshot(f.root);
    const inputs = await fixtureInputs(f);
    const r = await installTrust(inputs, runOpts(f, { env: { ...f.env, STUB_FAIL: '3' } }));
    assert.equal(r.ok, false);
    const byId = new Map(r.targets.map((t) => [t.id, t]));
    assert.equal(byId.get('os-store')?.state, 'failed');
    assert.match(byId.get('os-store')!.reason!, /step 3 \(Rebuild the system CA bundle: update-ca-certificates\) failed \(exit 3\)/);
    const pod = byId.get(`podman:${ADDR_B}`)!;
    assert.equal(pod.state, 'failed');
    assert.match(pod.reason!, /Create the directory .* failed \(exit 1\): .*File exists/);
    assert.deepEqual(pod.steps.map((s) => s.state), ['failed', 'skipped']);
    for (const [id, t] of byId) if (id !== 'os-store' && id !== `podman:${ADDR_B}`) assert.equal(t.state, 'ok', id);

    const rec = (await readInstalled(f.data)).installs[0];
    const paths = rec.targets.flatMap((t) => t.files.map((x) => x.path));
    assert.ok(paths.includes(R(`usr/local/share/ca-certificates/${caName}.crt`)), 'the copied file is recorded even though the refresh failed');
    assert.ok(!paths.some((p) => p.startsWith(R(`etc/containers/certs.d/${ADDR_B}`))));
    assert.deepEqual(rec.targets.find((t) => t.id === 'os-store')!.undo.map((u) => u.argv), [['update-ca-certificates', '--fresh'], debianHooksRemoval(caName).argv]);

    // someone edits a file Lanyard wrote: uninstall keeps it (and so its folder)
    fs.writeFileSync(R(`etc/containerd/certs.d/${ADDR_A}/hosts.toml`), 'server = "https://elsewhere"\n');
    const st = await trustStatus(inputs, { env: f.env });
    assert.equal(st.find((s) => s.id === `containerd:${ADDR_A}`)?.state, 'mismatch');
    assert.equal(st.find((s) => s.id === `podman:${ADDR_B}`)?.state, 'missing');

    const un = await uninstallTrust(runOpts(f));
    assert.equal(un[0].ok, true, un[0].stderr);
    const kept = un[0].targets.find((t) => t.id === `containerd:${ADDR_A}`)!;
    assert.match(kept.steps.map((s) => s.detail ?? '').join(' | '), /kept: it changed since Lanyard put it there/);
    const expected = new Map(before);
    expected.set('etc/containerd', 'dir:755');
    const after = snapshot(f.root);
    for (const [k, v] of after) if (k.startsWith('etc/containerd/certs.d')) expected.set(k, v);
    assert.deepEqual(after, expected);
    assert.deepEqual([...after.keys()].filter((k) => k.startsWith('etc/containerd/certs.d')), [
      'etc/containerd/certs.d', `etc/containerd/certs.d/${ADDR_A}`, `etc/containerd/certs.d/${ADDR_A}/hosts.toml`,
    ]);
    assert.equal(fs.readFileSync(R(`etc/containers/certs.d/${ADDR_B}`), 'utf8'), 'not a folder\n');
  });

  it('hands the elevated part to an ElevatedRunner, or returns the script when there is none', async () => {
    const f = makeFixture('runner');
    const inputs = await fixtureInputs(f);
    const calls: string[] = [];
    const runner: ElevatedRunner = {
      run: async (command, o) => {
        calls.push(command);
        assert.equal(fs.readFileSync(o.scriptPath, 'utf8'), o.script);
        return runCommand(['/bin/sh', o.scriptPath], { env: f.env });
      },
    };
    const r = await installTrust(inputs, runOpts(f, { elevated: false, runner }));
    assert.equal(r.ok, true, r.stderr);
    assert.equal(calls.length, 1);
    assert.match(calls[0], /^\/bin\/sh '.*\/lanyard-trust-[^/]+\/install-elevated\.sh'$/);
    assert.equal((await uninstallTrust(runOpts(f, { elevated: false, runner })))[0].ok, true);

    // the user says no: nothing runs, nothing is recorded, no success is reported
    const refusing: ElevatedRunner = { run: async () => Promise.reject(new Error('User did not grant permission.')) };
    const no = await installTrust(inputs, runOpts(f, { elevated: false, runner: refusing }));
    assert.equal(no.ok, false);
    for (const t of no.targets) {
      assert.equal(t.state, 'not-run', t.id);
      assert.match(t.reason!, /User did not grant permission/);
    }
    assert.equal(fs.existsSync(path.join(f.root, `etc/docker/certs.d/${ADDR_B}`)), false);
    assert.equal(fs.existsSync(recordPath(f.data)), false);
    if (f.nssdb) assert.notEqual(run('certutil', ['-L', '-d', `sql:${f.nssdb}`, '-n', caName]).code, 0);

    // no runner: the script is handed back; the caller runs it and finishes the bookkeeping
    const pending = await installTrust(inputs, runOpts(f, { elevated: false }));
    assert.equal(pending.ok, false);
    assert.ok(pending.elevation);
    assert.equal(fs.existsSync(path.join(f.root, `etc/docker/certs.d/${ADDR_B}`)), false);
    assert.equal(fs.readFileSync(pending.elevation.scriptPath, 'utf8'), pending.elevation.script);
    const out = await runCommand(['/bin/sh', pending.elevation.scriptPath], { env: f.env });
    const done = await finishInstall(pending, out, runOpts(f));
    assert.equal(done.ok, true, done.stderr);
    assert.equal(fs.existsSync(pending.elevation.stageDir), false);
    assert.equal((await readInstalled(f.data)).installs.length, 1);
    assert.equal((await uninstallTrust(runOpts(f)))[0].ok, true);
  });

  it('without a record, the generic uninstall removes only matching files and folders that held only them', async () => {
    const f = makeFixture('generic');
    const R = (rel: string) => path.join(f.root, rel);
    const before = snapshot(f.root);
    const inputs = await fixtureInputs(f);
    assert.equal((await installTrust(inputs, runOpts(f))).ok, true);
    // the record is lost; and someone replaced one of our files meanwhile
    fs.rmSync(path.join(f.data, 'trust'), { recursive: true });
    fs.writeFileSync(R(`etc/docker/certs.d/${ADDR_B}/ca.crt`), 'REPLACED BY SOMEONE\n');
    assert.deepEqual(await uninstallTrust(runOpts(f)), []);
    const un = await uninstallTrust(runOpts(f, { fallback: inputs }));
    assert.equal(un.length, 1);
    assert.equal(un[0].ok, true, un[0].stderr);
    const after = snapshot(f.root);
    const expected = new Map(before);
    expected.delete(`etc/containers/certs.d/${ADDR_B}`);
    expected.delete(`etc/containers/certs.d/${ADDR_B}/ca.crt`);
    // folders the install made above the per-address ones are not known without a record
    for (const d of ['usr', 'usr/local', 'usr/local/share', 'usr/local/share/ca-certificates', 'etc/containerd/certs.d']) expected.set(d, 'dir:755');
    expected.set(`etc/docker/certs.d/${ADDR_B}`, 'dir:755');
    expected.set(`etc/docker/certs.d/${ADDR_B}/ca.crt`, 'file:644:REPLACED BY SOMEONE\n');
    assert.deepEqual(after, expected);
  });

  it('builds the uninstall plan from the record alone', () => {
    const plan = uninstallPlanFromRecord({
      caName: 'lanyard-0011223344556677',
      fingerprint: 'f'.repeat(64),
      platform: 'linux',
      caCopy: '/d/trust/lanyard-0011223344556677.pem',
      installedAt: '',
      updatedAt: '',
      dirs: ['/etc/docker/certs.d/a:1', '/usr/local/share/ca-certificates'],
      targets: [
        { id: 'os-store', kind: 'os-store', label: 'OS', elevated: true, files: [{ path: '/usr/local/share/ca-certificates/x.crt', how: 'created', expect: { ca: true } }], undo: [{ argv: ['update-ca-certificates'], description: 'refresh' }] },
        { id: 'podman:b:1', kind: 'podman', label: 'P', elevated: true, files: [{ path: '/etc/containers/certs.d/b:1/ca.crt', how: 'adopted', expect: { ca: true }, sole: true, backup: '/etc/containers/certs.d/b:1/ca.crt.lanyard-backup' }], undo: [] },
      ],
    }, { stageDir: '/tmp/s' });
    assert.equal(plan.stage.src, '/d/trust/lanyard-0011223344556677.pem');
    assert.deepEqual(plan.targets.map((t) => [t.id, t.steps.map(shape)]), [
      ['podman:b:1', [['remove', '/etc/containers/certs.d/b:1/ca.crt', 'ca'], ['restore', '/etc/containers/certs.d/b:1/ca.crt.lanyard-backup', '/etc/containers/certs.d/b:1/ca.crt']]],
      ['os-store', [['remove', '/usr/local/share/ca-certificates/x.crt', 'ca'], ['run', ['update-ca-certificates'], []]]],
      ['cleanup', [['rmdir', '/usr/local/share/ca-certificates'], ['rmdir', '/etc/docker/certs.d/a:1'], ['rmdir', '/etc/containers/certs.d/b:1']]],
    ]);
    assertShellSyntax(renderShellScript(plan)!, 'record uninstall');
  });
});

// -----------------------------------------------------------------------------------------
// The LAN join flow

describe('trust join', () => {
  let server: https.Server;
  let port = 0;
  let servedCa = '';
  const requests: string[] = [];
  let marker = '';
  let fakeBin = '';

  before(async () => {
    const leaf = makeLeaf(path.join(tmp, 'ca'), ca);
    marker = path.join(tmp, 'join-ran');
    fakeBin = path.join(tmp, 'join-bin');
    fs.mkdirSync(fakeBin, { recursive: true });
    // if the test does not run as root the command uses sudo: a stand-in that just runs it
    fs.writeFileSync(path.join(fakeBin, 'sudo'), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
    servedCa = caPemText;
    server = https.createServer({ key: fs.readFileSync(leaf.key), cert: fs.readFileSync(leaf.cert) }, (req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/lanyard/ca.crt') res.end(servedCa);
      else if (req.url === '/lanyard/join.sh') res.end(`#!/bin/sh\necho joined > '${marker}'\n`);
      else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  // asynchronous: the HTTPS server answering the command runs in this process
  async function runJoin(fp: string) {
    requests.length = 0;
    fs.rmSync(marker, { force: true });
    const cmd = renderJoinCommand({ addr: `127.0.0.1:${port}`, fingerprint: fp });
    const r = await runCommand(['sh', '-c', cmd], { env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH}` }, timeoutMs: 60_000 });
    return { status: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  it('renders a one-line command with the fingerprint pinned', () => {
    const cmd = renderJoinCommand({ addr: '192.168.1.5:5000', fingerprint: caInfoFromPem(caPemText).fingerprintColon });
    assert.equal(cmd.includes('\n'), false);
    assert.match(cmd, /^sh -c '.*'$/);
    assert.ok(cmd.includes(`curl -fsSk https://192.168.1.5:5000/lanyard/ca.crt`));
    assert.ok(cmd.includes(`if [ "$fp" != ${fingerprint} ]`));
    assert.ok(cmd.includes('curl -fsS --cacert "$d/ca.crt" https://192.168.1.5:5000/lanyard/join.sh'));
    assertShellSyntax(cmd, 'join command');
    assertShellSyntax(cmd.slice("sh -c '".length, -1), 'join command body');
    assert.throws(() => renderJoinCommand({ addr: 'x;rm -rf /:1', fingerprint }), /invalid registry address/);
    assert.throws(() => renderJoinCommand({ addr: 'h:1', fingerprint: 'abc' }), /64 hex digits/);
    assert.equal(normalizeFingerprint('SHA256:' + caInfoFromPem(caPemText).fingerprintColon), fingerprint);
  });

  it('with the right fingerprint, fetches join.sh over verified TLS and runs it', async () => {
    const r = await runJoin(fingerprint);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(requests, ['/lanyard/ca.crt', '/lanyard/join.sh']);
    assert.equal(fs.readFileSync(marker, 'utf8'), 'joined\n');
  });

  it('with a wrong fingerprint, stops before fetching join.sh', async () => {
    const wrong = crypto.createHash('sha256').update('something else').digest('hex');
    const r = await runJoin(wrong);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Lanyard: CA fingerprint mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}\..*Nothing was installed\./);
    assert.deepEqual(requests, ['/lanyard/ca.crt']);
    assert.equal(fs.existsSync(marker), false);
  });

  it('stops when the server hands out another CA (or garbage)', async () => {
    try {
      servedCa = fs.readFileSync(makeCa(path.join(tmp, 'evil-ca'), 'Evil CA').pem, 'utf8');
      let r = await runJoin(fingerprint);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /fingerprint mismatch/);
      assert.deepEqual(requests, ['/lanyard/ca.crt']);
      servedCa = 'not a certificate at all\n';
      r = await runJoin(fingerprint);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /fingerprint mismatch/);
      assert.equal(fs.existsSync(marker), false);
    } finally {
      servedCa = caPemText;
    }
  });

  it('renders join.sh for every distro family and every LAN address', () => {
    const m = { addresses: ['laptop:5000', 'laptop.local:5000', '192.168.1.5', 'localhost:5000', '127.0.0.1:5000'], port: 5000, caPem: caPemText, fingerprint };
    assert.deepEqual(joinAddresses(m), ['laptop:5000', 'laptop.local:5000', '192.168.1.5:5000']);
    const script = renderJoinScript(m);
    assertShellSyntax(script, 'join.sh');
    assert.match(script, /^#!\/bin\/sh$/m);
    assert.match(script, /^ADDRESSES='laptop:5000 laptop\.local:5000 192\.168\.1\.5:5000'$/m);
    assert.match(script, /^LOGIN=192\.168\.1\.5:5000$/m);
    assert.match(script, new RegExp(`^NAME=lanyard-${fingerprint.slice(0, 16)}$`, 'm'));
    assert.ok(script.includes(caPemText.trim()));
    assert.match(script, /^ {4}debian\|ubuntu\|alpine\|.*\) family=debian ;;$/m);
    assert.match(script, /^ {4}rhel\|fedora\|centos\|.*\) family=rhel ;;$/m);
    assert.match(script, /debian\) store_dir=\/usr\/local\/share\/ca-certificates; store_file="\$NAME\.crt"; refresh=update-ca-certificates ;;/);
    assert.match(script, /rhel\) store_dir=\/etc\/pki\/ca-trust\/source\/anchors; store_file="\$NAME\.pem"; refresh='update-ca-trust extract' ;;/);
    assert.match(script, /install_ca "\/etc\/docker\/certs\.d\/\$a" ca\.crt/);
    assert.match(script, /install_ca "\/etc\/containers\/certs\.d\/\$a" ca\.crt/);
    assert.match(script, /^echo " {2}docker login \$LOGIN"$/m);
    assert.match(script, /sed -n 's\/\^ID=\/\/p' "\$f"/);
    assert.match(renderJoinScript(m, { preferred: 'laptop.local:5000' }), /^LOGIN=laptop\.local:5000$/m);
    assert.match(renderJoinScript(m, { preferred: 'elsewhere:5000' }), /^LOGIN=192\.168\.1\.5:5000$/m);
    assert.throws(() => renderJoinScript({ ...m, fingerprint: 'a'.repeat(64) }), /does not match its fingerprint/);
    assert.throws(() => renderJoinScript({ ...m, addresses: ['localhost'] }), /loopback only/);
  });

  it('serves /lanyard/ca.crt and /lanyard/join.sh without auth', async () => {
    const m = { addresses: ['laptop.local:5000', '192.168.1.5:5000'], port: 5000, caPem: caPemText, fingerprint };
    const app = new Koa();
    const router = new Router();
    registerTrustRoutes(router, async () => m);
    app.use(router.routes());
    const srv = http.createServer(app.callback());
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
      const c = await fetch(`${base}/lanyard/ca.crt`);
      assert.equal(c.status, 200);
      assert.equal(c.headers.get('content-type'), 'application/x-pem-file');
      assert.equal(await c.text(), caPemText);
      const j = await fetch(`${base}/lanyard/join.sh`);
      assert.equal(j.status, 200);
      assert.match(j.headers.get('content-type') ?? '', /^text\/x-shellscript/);
      assert.equal(await j.text(), renderJoinScript(m));
      // the Host the caller used becomes the docker login address when it is one of ours
      const viaName = await new Promise<string>((resolve, reject) => {
        http.get(`${base}/lanyard/join.sh`, { headers: { Host: 'laptop.local:5000' } }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body));
        }).on('error', reject);
      });
      assert.match(viaName, /^LOGIN=laptop\.local:5000$/m);
    } finally {
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });

  it('checks trust with a TLS handshake (curl exit 60 = untrusted)', async () => {
    const url = `https://127.0.0.1:${port}`;
    const env = { ...process.env };
    delete env.CURL_CA_BUNDLE;
    const untrusted = await checkHandshake(url, env);
    assert.equal(untrusted.state, 'missing', untrusted.detail);
    assert.match(untrusted.detail, /exit 60/);
    const trusted = await checkHandshake(url, { ...env, CURL_CA_BUNDLE: ca.pem });
    assert.equal(trusted.state, 'installed', trusted.detail);
    const down = await checkHandshake('https://127.0.0.1:1', env);
    assert.equal(down.state, 'unknown');
  });
});
