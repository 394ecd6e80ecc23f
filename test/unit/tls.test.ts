import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { addressKey, bytesToIp, discoverAddresses, ipToBytes, normalizeAddressSet, normalizeIp, type AddressSet } from '../../registry/tls/addresses';
import {
  certificateSans,
  certificateValidity,
  fingerprint256,
  isIssuedBy,
  issueLeaf,
  keyMatchesCertificate,
  LEAF_MAX_VALIDITY_DAYS,
  splitPemCertificates,
  type CertKeyPem,
} from '../../registry/tls/certs';
import { loadOrCreate, providedFromEnv, reissueReason, tlsFiles, TlsStore, type TlsMaterial } from '../../registry/tls/store';
import { requireTool, sleep, tempDir } from '../helpers/proc';

const DAY = 24 * 60 * 60 * 1000;
requireTool('openssl');
const root = tempDir('lanyard-tls');
after(() => fs.rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
function newDir(name: string): string {
  const d = path.join(root, `${name}-${++dirCount}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}
function writeTmp(name: string, data: string): string {
  const p = path.join(newDir('pem'), name);
  fs.writeFileSync(p, data);
  return p;
}
function x509Text(pem: string): string {
  return openssl(['x509', '-noout', '-text'], pem);
}
function ecKeyPem(): string {
  return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}
function mode(p: string): number {
  return fs.statSync(p).mode & 0o777;
}

function v4(address: string, internal = false): os.NetworkInterfaceInfo {
  return { address, netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal, cidr: `${address}/24` };
}
function v6(address: string, scopeid = 0, internal = false): os.NetworkInterfaceInfo {
  return { address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal, cidr: `${address}/64`, scopeid };
}

const LAN: AddressSet = { dnsNames: ['localhost', 'devbox', 'devbox.local'], ips: ['127.0.0.1', '::1', '192.168.1.20', 'fd12:3456:789a::20'] };
const discover = (ifs: NodeJS.Dict<os.NetworkInterfaceInfo[]>) => ({ interfaces: () => ifs, hostname: () => 'devbox' });

// The CA (RSA 3072) and a leaf for LAN are generated once per file, by the first start of a
// store; every other test reuses them.
const LAN_INTERFACES = { eth0: [v4('192.168.1.20'), v6('fd12:3456:789a::20'), v6('fe80::20', 2)] };
let FIRST: { dir: string; material: TlsMaterial; t0: number; t1: number };
let CA: CertKeyPem;
let LEAF: CertKeyPem;
before(async () => {
  const dir = newDir('first');
  const t0 = Date.now();
  const material = await new TlsStore(dir, { discover: discover(LAN_INTERFACES) }).loadOrCreate();
  FIRST = { dir, material, t0, t1: Date.now() };
  const f = tlsFiles(dir);
  CA = { certPem: fs.readFileSync(f.ca, 'utf8'), keyPem: fs.readFileSync(f.caKey, 'utf8') };
  LEAF = { certPem: splitPemCertificates(fs.readFileSync(f.cert, 'utf8'))[0]!, keyPem: fs.readFileSync(f.key, 'utf8') };
});

/** A data dir whose tls/ already holds the shared CA and (unless told) the LAN leaf: a "later start". */
function seededDir(name: string, withLeaf = true): string {
  const d = newDir(name);
  const f = tlsFiles(d);
  fs.mkdirSync(f.dir, { mode: 0o700 });
  fs.writeFileSync(f.ca, CA.certPem, { mode: 0o644 });
  fs.writeFileSync(f.caKey, CA.keyPem, { mode: 0o600 });
  if (withLeaf) {
    fs.writeFileSync(f.cert, LEAF.certPem + CA.certPem, { mode: 0o644 });
    fs.writeFileSync(f.key, LEAF.keyPem, { mode: 0o600 });
  }
  return d;
}

describe('tls: address discovery', () => {
  const interfaces = () => ({
    lo: [v4('127.0.0.1', true), v6('::1', 0, true)],
    eth0: [v4('192.168.1.20'), v6('fe80::1c2:3ff:fe44:5566', 2), v6('2001:db8:0:0:0:0:0:20'), v6('fd12:3456:789a::20')],
    wlan0: [v4('10.0.0.7'), v4('192.168.1.20'), v6('fe80::99')],
    tun0: [v6('2001:db8::77', 5)],
  });

  it('covers loopback, the host name, its .local name and every LAN address, sorted and deduplicated', () => {
    const a = discoverAddresses({ interfaces, hostname: () => 'DevBox' });
    assert.deepEqual(a.dnsNames, ['devbox', 'devbox.local', 'localhost']);
    // no link-local fe80::, no scoped IPv6, no internal, each once, IPv4 before IPv6
    assert.deepEqual(a.ips, ['10.0.0.7', '127.0.0.1', '192.168.1.20', '::1', '2001:db8::20', 'fd12:3456:789a::20']);
  });

  it('does not double .local, and adds the short name of a FQDN', () => {
    assert.deepEqual(discoverAddresses({ interfaces: () => ({}), hostname: () => 'mac.local' }).dnsNames, ['localhost', 'mac.local']);
    assert.deepEqual(discoverAddresses({ interfaces: () => ({}), hostname: () => 'box.corp.example' }).dnsNames, ['box', 'box.corp.example', 'box.local', 'localhost']);
    assert.deepEqual(discoverAddresses({ interfaces: () => ({}), hostname: () => 'bad host!' }).dnsNames, ['localhost']);
  });

  it('adds extra names and IPs, but not unspecified bind addresses', () => {
    const a = discoverAddresses({
      interfaces: () => ({}),
      hostname: () => 'h',
      extra: ['Registry.LAN', '10.9.8.7', '[2001:DB8::1]', '0.0.0.0', '::', 'fe80::5%eth0', 'https://reg.example:5000/', 'other.example:5000', '[2001:db8::2]:5000', '*.bad'],
    });
    assert.deepEqual(a.dnsNames, ['h', 'h.local', 'localhost', 'other.example', 'reg.example', 'registry.lan']);
    assert.deepEqual(a.ips, ['10.9.8.7', '127.0.0.1', '::1', '2001:db8::1', '2001:db8::2']);
  });

  it('gives a stable key: same set in any order or spelling, different when an address appears', () => {
    const reordered = () => {
      const i = interfaces();
      return { wlan0: i.wlan0, tun0: i.tun0, eth0: [...i.eth0].reverse(), lo: i.lo };
    };
    const k1 = addressKey(discoverAddresses({ interfaces, hostname: () => 'devbox' }));
    const k2 = addressKey(discoverAddresses({ interfaces: reordered, hostname: () => 'DEVBOX' }));
    assert.equal(k1, k2);
    assert.equal(addressKey({ dnsNames: ['B', 'a'], ips: ['FD00:0:0::1', '10.0.0.1'] }), addressKey({ dnsNames: ['a', 'b'], ips: ['10.0.0.1', 'fd00::1'] }));
    const k3 = addressKey(discoverAddresses({ interfaces: () => ({ ...interfaces(), eth1: [v4('172.16.0.3')] }), hostname: () => 'devbox' }));
    assert.notEqual(k1, k3);
  });

  it('normalises IPs to canonical text (RFC 5952) and rejects zones and junk', () => {
    assert.equal(normalizeIp('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(normalizeIp('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(normalizeIp('::'), '::');
    assert.equal(normalizeIp('1::'), '1::');
    assert.equal(normalizeIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(normalizeIp('::ffff:1.2.3.4'), '::ffff:102:304');
    assert.equal(normalizeIp('010.1.1.1'), null);
    assert.equal(normalizeIp('fe80::1%eth0'), null);
    assert.equal(normalizeIp('localhost'), null);
    assert.equal(bytesToIp(ipToBytes('fd00::1:2')!), 'fd00::1:2');
  });
});

describe('tls: certificate profile (checked with openssl)', () => {
  let leaf: CertKeyPem;
  let caFile = '';
  let leafFile = '';
  before(() => {
    leaf = LEAF;
    caFile = writeTmp('ca.pem', CA.certPem);
    leafFile = writeTmp('server.pem', leaf.certPem);
  });

  it('the CA is RSA 3072 / SHA-256, CA:TRUE pathlen:0 (critical), keyCertSign + cRLSign (critical), with a SKI and a unique CN', () => {
    const t = x509Text(CA.certPem);
    assert.match(t, /Public-Key: \(3072 bit\)/);
    assert.match(t, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(t, /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(t, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\s/);
    assert.match(t, /X509v3 Subject Key Identifier:/);
    const serial = openssl(['x509', '-noout', '-serial'], CA.certPem).trim().replace(/^serial=/, '');
    assert.match(serial, /^[0-9A-F]{32}$/, 'a 128-bit serial');
    const subject = openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], CA.certPem).trim();
    assert.equal(subject, `subject=CN=Lanyard Local CA ${serial.slice(0, 8)},O=Lanyard`);
    const { notBefore, notAfter } = certificateValidity(CA.certPem);
    assert.equal(notAfter.getUTCFullYear() - notBefore.getUTCFullYear(), 10);
    assert.equal(openssl(['x509', '-noout', '-issuer', '-nameopt', 'RFC2253'], CA.certPem).trim(), subject.replace('subject', 'issuer'));
  });

  it('the leaf verifies against the CA (strict, sslserver purpose)', () => {
    assert.equal(openssl(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', caFile, leafFile]).trim(), `${leafFile}: OK`);
    assert.ok(isIssuedBy(leaf.certPem, CA.certPem));
    assert.ok(keyMatchesCertificate(leaf.certPem, leaf.keyPem));
    assert.equal(keyMatchesCertificate(leaf.certPem, CA.keyPem), false);
  });

  it('the leaf is RSA 2048 / SHA-256, CA:FALSE, digitalSignature + keyEncipherment, serverAuth, AKI = CA key id, SANs incl. IPv6', () => {
    const t = x509Text(leaf.certPem);
    assert.match(t, /Public-Key: \(2048 bit\)/);
    assert.match(t, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(t, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(t, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\s/);
    assert.match(t, /X509v3 Extended Key Usage:\s+TLS Web Server Authentication\s/);
    assert.match(t, /X509v3 Subject Key Identifier:/);
    const caSki = /X509v3 Subject Key Identifier:\s+([0-9A-F:]+)/.exec(x509Text(CA.certPem))![1]!;
    const aki = /X509v3 Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/.exec(t)![1]!;
    assert.equal(aki, caSki);
    const san = /X509v3 Subject Alternative Name:\s+(.+)/.exec(t)![1]!.split(', ').map((s) => s.trim());
    assert.deepEqual(san.sort(), [
      'DNS:devbox',
      'DNS:devbox.local',
      'DNS:localhost',
      'IP Address:0:0:0:0:0:0:0:1',
      'IP Address:127.0.0.1',
      'IP Address:192.168.1.20',
      'IP Address:FD12:3456:789A:0:0:0:0:20',
    ]);
    assert.equal(openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], leaf.certPem).trim(), 'subject=CN=devbox,O=Lanyard');
  });

  it('the leaf is valid for at most 825 days, from a minute ago', () => {
    const out = openssl(['x509', '-noout', '-startdate', '-enddate'], leaf.certPem);
    const start = Date.parse(/notBefore=(.+)/.exec(out)![1]!);
    const end = Date.parse(/notAfter=(.+)/.exec(out)![1]!);
    assert.ok(end - start <= LEAF_MAX_VALIDITY_DAYS * DAY, `${(end - start) / DAY} days`);
    assert.ok(end - start > (LEAF_MAX_VALIDITY_DAYS - 1) * DAY);
    assert.ok(start >= FIRST.t0 - 61_000 && start <= FIRST.t1 - 59_000, 'notBefore a minute before issuance');
    assert.throws(() => issueLeaf(CA, LAN, new Date(), { validityDays: 826 }), /validity/);
    assert.throws(() => issueLeaf(CA, LAN, new Date(certificateValidity(CA.certPem).notAfter.getTime() + DAY), { keyPem: LEAF.keyPem }), /CA has expired/);
    // never past the CA's own end
    const late = issueLeaf(CA, LAN, new Date(certificateValidity(CA.certPem).notAfter.getTime() - 100 * DAY), { keyPem: LEAF.keyPem });
    assert.ok(certificateValidity(late.certPem).notAfter <= certificateValidity(CA.certPem).notAfter);
  });

  it('fingerprints match openssl -fingerprint -sha256', () => {
    for (const pem of [CA.certPem, leaf.certPem]) {
      const o = openssl(['x509', '-noout', '-fingerprint', '-sha256'], pem).trim().split('=')[1]!;
      const fp = fingerprint256(pem);
      assert.equal(fp.colon, o);
      assert.equal(fp.hex, o.replace(/:/g, '').toLowerCase());
      assert.match(fp.hex, /^[0-9a-f]{64}$/);
    }
    // the first certificate of a chain
    assert.equal(fingerprint256(leaf.certPem + CA.certPem).hex, fingerprint256(leaf.certPem).hex);
  });

  it('parses SANs and validity back (also from a non-RSA certificate)', () => {
    assert.deepEqual(certificateSans(leaf.certPem), {
      dnsNames: ['devbox', 'devbox.local', 'localhost'],
      ips: ['127.0.0.1', '192.168.1.20', '::1', 'fd12:3456:789a::20'],
    });
    const d = newDir('ec');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=ec.test', '-addext', 'subjectAltName=DNS:ec.test,IP:2001:db8::9', '-keyout', path.join(d, 'k.pem'), '-out', path.join(d, 'c.pem')]);
    const ec = fs.readFileSync(path.join(d, 'c.pem'), 'utf8');
    assert.deepEqual(certificateSans(ec), { dnsNames: ['ec.test'], ips: ['2001:db8::9'] });
    const { notBefore, notAfter } = certificateValidity(ec);
    assert.equal(Math.round((notAfter.getTime() - notBefore.getTime()) / DAY), 30);
  });
});

/** Listen on 127.0.0.1 with the given material. */
async function listenHttps(m: { cert: string; key: string }): Promise<{ server: https.Server; port: number }> {
  const server = https.createServer({ cert: m.cert, key: m.key, keepAliveTimeout: 30_000 }, (req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`ok ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function closeServer(server: https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A TLS handshake: the peer certificate, or the verification error. */
function handshake(opts: tls.ConnectionOptions): Promise<{ ok: true; peer: tls.DetailedPeerCertificate; authorized: boolean } | { ok: false; code: string }> {
  return new Promise((resolve) => {
    const s = tls.connect(opts, () => {
      const peer = s.getPeerCertificate(true);
      resolve({ ok: true, peer, authorized: s.authorized });
      s.end();
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, code: e.code ?? e.message }));
  });
}

describe('tls: handshakes with node', () => {
  let leaf: CertKeyPem;
  let server: https.Server;
  let port = 0;
  before(async () => {
    leaf = LEAF;
    ({ server, port } = await listenHttps({ cert: leaf.certPem + CA.certPem, key: leaf.keyPem }));
  });
  after(() => closeServer(server));

  it('succeeds with the CA, by name and by IP', async () => {
    const byName = await handshake({ host: '127.0.0.1', port, ca: CA.certPem, servername: 'localhost' });
    assert.ok(byName.ok && byName.authorized);
    assert.equal(byName.peer.fingerprint256, fingerprint256(leaf.certPem).colon);
    assert.equal(byName.peer.issuerCertificate.fingerprint256, fingerprint256(CA.certPem).colon, 'the chain carries the CA, so clients can pin it');
    const byIp = await handshake({ host: '127.0.0.1', port, ca: CA.certPem });
    assert.ok(byIp.ok && byIp.authorized);
    const mdns = await handshake({ host: '127.0.0.1', port, ca: CA.certPem, servername: 'devbox.local' });
    assert.ok(mdns.ok && mdns.authorized);
  });

  it('fails without the CA (self-signed in chain) and for a name not in the SANs', async () => {
    const noCa = await handshake({ host: '127.0.0.1', port, servername: 'localhost' });
    assert.deepEqual(noCa, { ok: false, code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const wrongName = await handshake({ host: '127.0.0.1', port, ca: CA.certPem, servername: 'elsewhere.example' });
    assert.deepEqual(wrongName, { ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});

describe('tls: the store', () => {
  it('creates the CA and the leaf on first start with private modes, and reuses both afterwards', async () => {
    const d = FIRST.dir;
    const f = tlsFiles(d);
    const m1 = FIRST.material;
    assert.equal(m1.mode, 'managed');
    assert.ok(m1.caCreated && m1.reissued);
    assert.equal(m1.reason, 'missing');
    assert.equal(mode(f.dir), 0o700);
    assert.equal(mode(f.caKey), 0o600);
    assert.equal(mode(f.key), 0o600);
    assert.equal(mode(f.ca), 0o644);
    assert.equal(mode(f.cert), 0o644);
    assert.deepEqual(fs.readdirSync(f.dir).sort(), ['ca-key.pem', 'ca.pem', 'server-key.pem', 'server.pem'], 'no temp files left');
    assert.equal(m1.ca, fs.readFileSync(f.ca, 'utf8'));
    assert.equal(m1.cert, fs.readFileSync(f.cert, 'utf8'));
    assert.equal(splitPemCertificates(m1.cert).length, 2, 'server.pem is the chain: leaf, CA');
    assert.equal(m1.caFingerprint, fingerprint256(fs.readFileSync(f.ca, 'utf8')).colon);
    assert.equal(m1.caFingerprintHex, fingerprint256(fs.readFileSync(f.ca, 'utf8')).hex);
    assert.deepEqual(m1.sans, normalizeAddressSet(LAN));
    assert.equal(openssl(['verify', '-CAfile', f.ca, f.cert]).trim(), `${f.cert}: OK`);
    assert.match(openssl(['x509', '-noout', '-subject'], m1.ca!), /CN = Lanyard Local CA [0-9A-F]{8}\n/, 'CN unique per install');
    assert.equal(JSON.stringify(m1).includes(fs.readFileSync(f.caKey, 'utf8').split('\n')[1]!), false, 'the CA key is never returned');

    const before = { ca: fs.readFileSync(f.ca), key: fs.readFileSync(f.caKey), cert: fs.readFileSync(f.cert), mtime: fs.statSync(f.cert).mtimeMs };
    const m2 = await new TlsStore(d, { discover: discover(LAN_INTERFACES) }).loadOrCreate();
    assert.equal(m2.reissued, false);
    assert.equal(m2.caCreated, false);
    assert.equal(m2.reason, null);
    assert.equal(m2.leafFingerprint, m1.leafFingerprint);
    assert.deepEqual(fs.readFileSync(f.ca), before.ca);
    assert.deepEqual(fs.readFileSync(f.caKey), before.key);
    assert.deepEqual(fs.readFileSync(f.cert), before.cert);
    assert.equal(fs.statSync(f.cert).mtimeMs, before.mtime);
  });

  it('reissues from the same CA when the addresses change, and only then', async () => {
    const d = seededDir('change');
    const f = tlsFiles(d);
    const m1 = await loadOrCreate(d, LAN);
    assert.equal(m1.reissued, false);
    assert.equal(m1.ca, CA.certPem, 'the existing CA is reused');
    assert.equal((await loadOrCreate(d, { dnsNames: [...LAN.dnsNames].reverse(), ips: ['FD12:3456:789A:0::20', ...LAN.ips] })).reissued, false, 'same set');
    const more = { dnsNames: LAN.dnsNames, ips: [...LAN.ips, '10.1.2.3', '2001:db8:1::5'] };
    const m2 = await loadOrCreate(d, more);
    assert.ok(m2.reissued);
    assert.equal(m2.reason, 'addresses');
    assert.ok(m2.sans.ips.includes('10.1.2.3') && m2.sans.ips.includes('2001:db8:1::5'));
    assert.equal(fs.readFileSync(f.ca, 'utf8'), CA.certPem);
    assert.ok(isIssuedBy(m2.leaf, CA.certPem));
    assert.match(x509Text(m2.leaf), /IP Address:2001:DB8:1:0:0:0:0:5/);
    assert.equal(fs.readFileSync(f.key, 'utf8'), m2.key);
    assert.equal(reissueReason({ certPem: m2.leaf, keyPem: m2.key }, CA.certPem, LAN, new Date()), 'addresses', 'an address that went away counts too');
    assert.equal(reissueReason({ certPem: m2.leaf, keyPem: m2.key }, CA.certPem, more, new Date()), null);
  });

  it('reissues when the leaf expires within 30 days (injected clock), not before', async () => {
    const d = seededDir('expiry');
    const m1 = await loadOrCreate(d, LAN);
    assert.equal(m1.reissued, false);
    const at = (days: number) => () => new Date(m1.notAfter.getTime() - days * DAY);
    assert.equal((await loadOrCreate(d, LAN, { now: at(31) })).reissued, false);
    const m2 = await loadOrCreate(d, LAN, { now: at(29) });
    assert.ok(m2.reissued);
    assert.equal(m2.reason, 'expiring');
    assert.ok(m2.notAfter > m1.notAfter);
    // pure decision, for completeness
    const leaf = { certPem: m1.leaf, keyPem: m1.key };
    assert.equal(reissueReason(leaf, CA.certPem, LAN, at(31)()), null);
    assert.equal(reissueReason(leaf, CA.certPem, LAN, at(30)()), 'expiring');
    assert.equal(reissueReason(leaf, CA.certPem, LAN, new Date(m1.notBefore.getTime() - DAY)), 'not-yet-valid');
    assert.equal(reissueReason(null, CA.certPem, LAN, new Date()), 'missing');
  });

  it('reissues a leaf whose key does not match or that another CA signed, and tightens loose key modes', async () => {
    const d = seededDir('broken');
    const f = tlsFiles(d);
    assert.equal(reissueReason({ certPem: LEAF.certPem, keyPem: ecKeyPem() }, CA.certPem, LAN, new Date()), 'key-mismatch');
    // a self-signed certificate for the same names, not from our CA
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,DNS:devbox,DNS:devbox.local,IP:127.0.0.1,IP:::1,IP:192.168.1.20,IP:fd12:3456:789a::20', '-keyout', f.key, '-out', f.cert]);
    const m = await loadOrCreate(d, LAN);
    assert.equal(m.reason, 'other-ca');
    assert.ok(isIssuedBy(m.leaf, CA.certPem));
    fs.chmodSync(f.caKey, 0o644);
    fs.chmodSync(f.key, 0o640);
    assert.equal((await loadOrCreate(d, LAN)).reissued, false);
    assert.equal(mode(f.caKey), 0o600);
    assert.equal(mode(f.key), 0o600);
  });

  it('uses bring-your-own files untouched and never generates anything', async () => {
    const d = newDir('byo-data');
    const own = newDir('byo-files');
    const certFile = path.join(own, 'registry.crt');
    const keyFile = path.join(own, 'registry.key');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '90', '-subj', '/CN=registry.example', '-addext', 'subjectAltName=DNS:registry.example', '-keyout', keyFile, '-out', certFile]);
    fs.chmodSync(keyFile, 0o640);
    const before = [certFile, keyFile].map((p) => ({ data: fs.readFileSync(p, 'utf8'), mtime: fs.statSync(p).mtimeMs, mode: mode(p) }));
    const store = new TlsStore(d, { provided: { certFile, keyFile } });
    const m = await store.loadOrCreate(LAN);
    assert.equal(m.mode, 'provided');
    assert.equal(m.cert, before[0]!.data);
    assert.equal(m.key, before[1]!.data);
    assert.equal(m.ca, null);
    assert.equal(m.caFingerprint, null);
    assert.equal(m.reissued, false);
    assert.deepEqual(m.sans, { dnsNames: ['registry.example'], ips: [] });
    assert.deepEqual([certFile, keyFile].map((p) => ({ data: fs.readFileSync(p, 'utf8'), mtime: fs.statSync(p).mtimeMs, mode: mode(p) })), before);
    assert.deepEqual(fs.readdirSync(d), [], 'nothing written to the data dir');
    assert.deepEqual(fs.readdirSync(own).sort(), ['registry.crt', 'registry.key']);
    // a key that is not the certificate's is refused
    const otherKey = path.join(own, 'other.key');
    fs.writeFileSync(otherKey, ecKeyPem());
    await assert.rejects(new TlsStore(d, { provided: { certFile, keyFile: otherKey } }).loadOrCreate(), /not the private key/);
    // the registry:2 variables
    assert.deepEqual(providedFromEnv({ REGISTRY_HTTP_TLS_CERTIFICATE: certFile, REGISTRY_HTTP_TLS_KEY: keyFile }), { certFile, keyFile });
    assert.equal(providedFromEnv({}), null);
    assert.throws(() => providedFromEnv({ REGISTRY_HTTP_TLS_CERTIFICATE: certFile }), /must be set together/);
  });

  it('the watcher reissues on an address change; setSecureContext swaps it in without dropping keep-alive connections', { timeout: 30_000 }, async () => {
    const d = seededDir('watch');
    let ifs: NodeJS.Dict<os.NetworkInterfaceInfo[]> = LAN_INTERFACES;
    const store = new TlsStore(d, { discover: { interfaces: () => ifs, hostname: () => 'devbox' } });
    const m1 = await store.loadOrCreate();
    assert.equal(m1.reissued, false);
    const { server, port } = await listenHttps(m1);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: m1.ca! });
    try {
      const get = (p: string) =>
        new Promise<{ body: string; socket: tls.TLSSocket; reused: boolean }>((resolve, reject) => {
          const req = https.get({ host: '127.0.0.1', port, path: p, agent }, (res) => {
            const socket = res.socket as tls.TLSSocket;
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ body, socket, reused: req.reusedSocket }));
          });
          req.on('error', reject);
        });
      const r1 = await get('/one');
      assert.equal(r1.body, 'ok /one');
      assert.equal(r1.socket.getPeerCertificate().fingerprint256, m1.leafFingerprint);

      const changes: TlsMaterial[] = [];
      let changed!: (m: TlsMaterial) => void;
      const nextChange = new Promise<TlsMaterial>((resolve) => (changed = resolve));
      const watcher = store.watchAddresses(50, (m) => {
        changes.push(m);
        server.setSecureContext({ cert: m.cert, key: m.key });
        changed(m);
      });
      try {
        assert.equal(await watcher.check(), null, 'no change, no reissue');
        await sleep(200); // a few polls
        assert.equal(changes.length, 0);
        // a new address appears: the polling timer notices
        ifs = { ...LAN_INTERFACES, eth1: [v6('2001:db8:50::10'), v6('fe80::10', 3)], wlan0: [v4('10.20.30.40')] };
        const m2 = await nextChange;
        assert.ok(m2.reissued);
        assert.equal(m2.reason, 'addresses');
        assert.equal(changes.length, 1);
        assert.equal(m2.ca, m1.ca, 'same CA');
        assert.deepEqual(m2.sans.ips, ['10.20.30.40', '127.0.0.1', '192.168.1.20', '::1', '2001:db8:50::10', 'fd12:3456:789a::20']);

        // a new connection sees the new certificate, valid for the new addresses
        const h = await handshake({ host: '127.0.0.1', port, ca: m1.ca!, servername: 'localhost' });
        assert.ok(h.ok && h.authorized);
        assert.equal(h.peer.fingerprint256, m2.leafFingerprint);
        assert.equal(tls.checkServerIdentity('10.20.30.40', h.peer), undefined);
        assert.equal(tls.checkServerIdentity('2001:db8:50::10', h.peer), undefined);
        assert.ok(tls.checkServerIdentity('10.99.99.99', h.peer) instanceof Error);

        // the old keep-alive connection still works, on its old certificate
        const r2 = await get('/two');
        assert.equal(r2.body, 'ok /two');
        assert.ok(r2.reused);
        assert.equal(r2.socket, r1.socket);
        assert.equal(r2.socket.getPeerCertificate().fingerprint256, m1.leafFingerprint);

        assert.equal(await watcher.check(), null, 'settled');
        assert.equal(changes.length, 1);
      } finally {
        watcher.stop();
      }
    } finally {
      agent.destroy();
      await closeServer(server);
    }
  });

  it('in bring-your-own mode the watcher reloads replaced files', async () => {
    const own = newDir('byo-rotate');
    const certFile = path.join(own, 'c.pem');
    const keyFile = path.join(own, 'k.pem');
    const pair = (cn: string) => {
      const k = path.join(own, `${cn}.key`);
      const c = path.join(own, `${cn}.crt`);
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', `/CN=${cn}`, '-keyout', k, '-out', c]);
      return { certPem: fs.readFileSync(c, 'utf8'), keyPem: fs.readFileSync(k, 'utf8') };
    };
    const first = pair('one.example');
    fs.writeFileSync(certFile, first.certPem);
    fs.writeFileSync(keyFile, first.keyPem);
    const store = new TlsStore(newDir('byo-rotate-data'), { provided: { certFile, keyFile } });
    await store.loadOrCreate();
    const seen: string[] = [];
    const watcher = store.watchAddresses(60_000, (m) => void seen.push(m.leafFingerprint));
    try {
      assert.equal(await watcher.check(), null);
      const next = pair('two.example');
      fs.writeFileSync(certFile, next.certPem);
      await assert.rejects(watcher.check(), /not the private key/, 'half-replaced: keep the old context');
      fs.writeFileSync(keyFile, next.keyPem);
      const m = await watcher.check();
      assert.equal(m?.leafFingerprint, fingerprint256(next.certPem).colon);
      assert.deepEqual(seen, [m!.leafFingerprint]);
      assert.equal(await watcher.check(), null);
    } finally {
      watcher.stop();
    }
  });
});
