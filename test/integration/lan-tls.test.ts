// TLS trust on a real (virtual) LAN: `lanyard serve` runs in a network namespace of its own,
// reached from the root namespace over a veth pair (test/helpers/netns.ts), so every client
// here (curl, openssl, a private dockerd) talks to a non-loopback address, where Docker
// insists on a trusted certificate (127.0.0.0/8 is an insecure registry for Docker, which
// would prove nothing).
//
//  1. untrusted: curl without -k fails (exit 60), docker login fails (x509 unknown authority)
//  2. `lanyard trust install` (as root, into this machine's real stores): curl, docker
//     login/push/pull and `trust status` work; `lanyard trust uninstall` undoes all of it and
//     leaves no file behind
//  3. the pinned join command (as `lanyard serve` prints it) makes the machine trust the
//     registry; with one hex digit of the fingerprint changed it refuses and installs nothing
//  4. a new address in the namespace: the server re-issues its leaf from the same CA within
//     one 30 s watcher tick; clients that trust the CA keep working without re-trusting
//
// The namespace shares /etc with the root namespace: the trust stores touched are the
// machine's own (/usr/local/share/ca-certificates, /etc/ssl/certs, /etc/docker/certs.d,
// /etc/containers/certs.d, and through update-ca-certificates' hook the Java keystore). They
// are snapshotted before anything runs and must be identical at the end; `after` removes
// whatever this file's CA left (only files holding this CA, only new, empty folders), deletes
// the namespace and the veth pair, and stops every process it started by PID.
//
// Needs root, iproute2, curl, openssl, dockerd + docker, update-ca-certificates.
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { requireTool, sleep, tempDir, waitForOutput } from '../helpers/proc';
import { startLanyard, lanyardBin, LanyardServer } from '../helpers/lanyard';
import { startDockerd, Dockerd, imageId, pushedDigest, removeImage } from '../helpers/dockerd';
import { buildImage } from '../helpers/images';
import { createNetns, Netns, runCmd, showCmd, CmdResult } from '../helpers/netns';

const PORT = 5443;
const OS_ANCHORS = '/usr/local/share/ca-certificates';
const DOCKER_CERTS_D = '/etc/docker/certs.d';
const CONTAINERS_CERTS_D = '/etc/containers/certs.d';
const ETC_SSL_CERTS = '/etc/ssl/certs';
const BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const JAVA_KEYSTORE = '/etc/ssl/certs/java/cacerts';
const UNKNOWN_AUTHORITY = /x509: certificate signed by unknown authority/;
/** how long the server's address watcher may take: one 30 s tick, plus key generation and slack */
const REISSUE_DEADLINE_MS = 50_000;

// ---------------------------------------------------------------------------------- trust state

/** path -> "absent" | "dir MODE" | "file MODE sha256:HEX" | "link -> TARGET" */
type Snapshot = Record<string, string>;

function mode(st: fs.Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

function describeEntry(p: string, st: fs.Stats): string {
  if (st.isSymbolicLink()) return `link -> ${fs.readlinkSync(p)}`;
  if (st.isDirectory()) return `dir ${mode(st)}`;
  if (st.isFile()) return `file ${mode(st)} sha256:${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
  return `other ${mode(st)}`;
}

/**
 * The certs.d trees and the OS anchors folder, recursively; /etc/ssl/certs one level deep
 * (the hash links, the per-CA links and the bundle ca-certificates.crt; the binary Java
 * keystore below java/ is compared by its entries instead, see javaEntries).
 */
function snapshot(): Snapshot {
  const out: Snapshot = {};
  const walk = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      out[p] = 'absent';
      return;
    }
    out[p] = describeEntry(p, st);
    if (st.isDirectory()) for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e));
  };
  for (const root of [DOCKER_CERTS_D, CONTAINERS_CERTS_D, OS_ANCHORS]) walk(root);
  for (const e of fs.readdirSync(ETC_SSL_CERTS).sort()) {
    if (e === 'java') continue;
    const p = path.join(ETC_SSL_CERTS, e);
    out[p] = describeEntry(p, fs.lstatSync(p));
  }
  return out;
}

function snapshotDiff(a: Snapshot, b: Snapshot): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => a[k] !== b[k]).map((k) => `${k}: ${a[k] ?? '(not there)'}  =>  ${b[k] ?? '(not there)'}`);
}

let keytoolBin: string | null = null;

/** "alias SHA-256" of every entry of the Java keystore that update-ca-certificates feeds; null without one. */
async function javaEntries(): Promise<string[] | null> {
  if (!keytoolBin || !fs.existsSync(JAVA_KEYSTORE)) return null;
  const r = await runCmd(keytoolBin, ['-list', '-keystore', JAVA_KEYSTORE, '-storepass', 'changeit'], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(showCmd('keytool -list', r));
  const out: string[] = [];
  let alias: string | null = null;
  for (const line of r.stdout.split('\n')) {
    const a = /^(\S[^,]*), .*, trustedCertEntry/.exec(line);
    if (a) alias = a[1];
    const f = /^Certificate fingerprint \(SHA-256\): (\S+)/.exec(line);
    if (f && alias) {
      out.push(`${alias} ${f[1]}`);
      alias = null;
    }
  }
  return out.sort();
}

/** The DER of the first certificate in a PEM file, or null. */
function certDerOf(file: string): Buffer | null {
  try {
    const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(fs.readFileSync(file, 'utf8'));
    return m ? Buffer.from(new crypto.X509Certificate(m[0]).raw) : null;
  } catch {
    return null;
  }
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

// ---------------------------------------------------------------------------------- clients

const PROXY_AND_CA_VARS = ['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE', 'SSL_CERT_DIR'];

/** The environment without proxies and without CA overrides: curl and openssl use the OS store. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of PROXY_AND_CA_VARS) delete env[k];
  return env;
}

describe('TLS trust on a LAN (network namespace; curl, openssl, docker, join script)', { timeout: 240_000 }, () => {
  let curlBin = '';
  let opensslBin = '';
  let dockerBin = '';
  let updateCaBin = '';
  let start: Snapshot | null = null;
  let startJava: string[] | null = null;
  let ns: Netns | undefined;
  let srv: LanyardServer | undefined;
  let dk: Dockerd | undefined;
  let dataDir = '';
  let addr = ''; // <ns ip>:5443, what clients use
  let admin = { user: '', password: '' };
  let joinLine = ''; // the join command `lanyard serve` printed
  let caPem = '';
  let caDer: Buffer = Buffer.alloc(0);
  let caHex = ''; // SHA-256 of the CA, lower-case hex
  let caName = ''; // lanyard-<first 16 hex>
  /** the Java keystore right after `lanyard trust uninstall` (test 2), for the todo check */
  let javaAfterUninstall: string[] | null = null;

  const dumpLogs = () => {
    if (srv) console.error(`--- lanyard output (last 40 lines) ---\n${srv.output().split('\n').slice(-40).join('\n')}`);
    if (dk) console.error(`--- dockerd log (last 30 lines) ---\n${dk.logTail(30)}`);
  };
  const step = <A extends unknown[]>(fn: (...a: A) => Promise<void>) => async (...a: A) => {
    try {
      await fn(...a);
    } catch (e) {
      dumpLogs();
      throw e;
    }
  };

  const javaAlias = () => `debian:${caName}.pem`;

  /** Remove what this file's CA left in the trust stores; returns what it did. */
  const restoreTrust = async (opts: { refresh?: boolean } = {}): Promise<string[]> => {
    if (!start) return [];
    const done: string[] = [];
    const now = snapshot();
    const fresh = Object.keys(now).filter((p) => now[p] !== 'absent' && (start![p] === undefined || start![p] === 'absent'));
    for (const p of fresh) {
      if (!p.startsWith(`${ETC_SSL_CERTS}/`) && now[p].startsWith('file ') && caDer.length > 0 && certDerOf(p)?.equals(caDer)) {
        fs.rmSync(p);
        done.push(`removed ${p}`);
      }
    }
    for (const p of fresh.filter((q) => now[q].startsWith('dir ')).sort((x, y) => depth(y) - depth(x))) {
      try {
        fs.rmdirSync(p); // only when empty
        done.push(`removed the folder ${p}`);
      } catch {
        /* not empty: not ours to remove */
      }
    }
    const osStore = (s: Snapshot) => JSON.stringify(Object.entries(s).filter(([k]) => k.startsWith(OS_ANCHORS) || k.startsWith(ETC_SSL_CERTS)));
    if (opts.refresh || osStore(snapshot()) !== osStore(start)) {
      const r = await runCmd(updateCaBin, ['--fresh'], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(showCmd('update-ca-certificates --fresh', r));
      done.push('ran update-ca-certificates --fresh');
    }
    // Debian's Java hook is not told about certificates removed by a --fresh run
    const java = await javaEntries();
    if (java && startJava && caName && keytoolBin) {
      const ours = java.filter((e) => e.startsWith(`${javaAlias()} `) && !startJava!.includes(e));
      if (ours.length > 0) {
        const r = await runCmd(keytoolBin, ['-delete', '-keystore', JAVA_KEYSTORE, '-storepass', 'changeit', '-alias', javaAlias()], { timeoutMs: 60_000 });
        if (r.code !== 0) throw new Error(showCmd(`keytool -delete -alias ${javaAlias()}`, r));
        done.push(`removed ${javaAlias()} from ${JAVA_KEYSTORE}`);
      }
    }
    return done;
  };

  /** The trust stores must be exactly as they were before this file ran. */
  const assertAsFound = async (when: string) => {
    assert.ok(start, 'no starting snapshot');
    assert.deepEqual(snapshotDiff(start, snapshot()), [], `${when}: trust stores / certs.d differ from the start`);
    const java = await javaEntries();
    if (startJava && java) {
      const added = java.filter((e) => !startJava!.includes(e));
      const removed = startJava.filter((e) => !java.includes(e));
      assert.deepEqual({ added, removed }, { added: [], removed: [] }, `${when}: Java keystore ${JAVA_KEYSTORE} differs from the start`);
    }
  };

  const lanyard = (args: string[]) => runCmd(process.execPath, [lanyardBin, ...args], { env: cleanEnv(), timeoutMs: 180_000 });
  const lanyardOk = async (args: string[]) => {
    const r = await lanyard(args);
    assert.equal(r.code, 0, showCmd(`lanyard ${args.join(' ')}`, r));
    return r;
  };

  /** GET url with curl and the OS store (no -k unless asked); http is the status code. */
  const curl = async (url: string, extra: string[] = []): Promise<CmdResult & { http: string }> => {
    const r = await runCmd(curlBin, ['--silent', '--show-error', '--noproxy', '*', '--max-time', '15', '--output', '/dev/null', '--write-out', '%{http_code}', ...extra, url], {
      env: cleanEnv(),
      timeoutMs: 30_000,
    });
    return { ...r, http: r.stdout.trim() };
  };
  const expectUntrusted = async (host: string, when: string) => {
    const r = await curl(`https://${host}/v2/`);
    assert.equal(r.code, 60, showCmd(`${when}: curl https://${host}/v2/ without -k should fail verification (exit 60)`, r));
    assert.match(r.stderr, /certificate/i, `${when}: curl error: ${r.stderr}`);
  };
  const expectTrusted = async (host: string, when: string) => {
    const r = await curl(`https://${host}/v2/`);
    assert.equal(r.code, 0, showCmd(`${when}: curl https://${host}/v2/ without -k`, r));
    assert.equal(r.http, '401', `${when}: /v2/ without credentials: HTTP ${r.http}`);
  };

  const docker = (args: string[], o: { input?: string; timeoutMs?: number } = {}) =>
    runCmd(dockerBin, args, { env: dk!.env, input: o.input, timeoutMs: o.timeoutMs ?? 180_000 });
  const dockerOk = async (args: string[], o: { input?: string; timeoutMs?: number } = {}) => {
    const r = await docker(args, o);
    assert.equal(r.code, 0, showCmd(`docker ${args.join(' ')}`, r));
    return r;
  };
  const login = (host: string) => docker(['login', '--username', admin.user, '--password-stdin', host], { input: admin.password + '\n', timeoutMs: 60_000 });
  const loginOk = async (host: string, when: string) => {
    const r = await login(host);
    assert.equal(r.code, 0, showCmd(`${when}: docker login ${host}`, r));
    assert.match(r.stdout, /Login Succeeded/);
  };
  const loginUntrusted = async (host: string, when: string) => {
    const r = await login(host);
    assert.notEqual(r.code, 0, showCmd(`${when}: docker login ${host} should fail`, r));
    assert.match(r.stderr + r.stdout, UNKNOWN_AUTHORITY, showCmd(`${when}: docker login ${host} should fail with the unknown-authority error`, r));
  };
  /** Build a small fresh image, push it as host/repoTag; optionally drop it locally and pull it back. */
  const pushImage = async (host: string, repoTag: string, opts: { pull?: boolean } = {}) => {
    const ref = `${host}/${repoTag}`;
    const img = await buildImage(dk!, [96 * 1024], { tags: [ref] });
    const push = await dockerOk(['push', ref]);
    const digest = pushedDigest(push.stdout);
    if (opts.pull) {
      await removeImage(dk!, img.id);
      const pull = await dockerOk(['pull', ref]);
      assert.match(pull.stdout, new RegExp(`Digest: ${digest}`), pull.stdout);
      assert.equal(await imageId(dk!, ref), img.id, 'the pulled image is the pushed one');
    }
  };

  /** The leaf the server presents at ip:PORT (openssl s_client), and whether it verifies for ip with the OS bundle. */
  const serverLeaf = async (ip: string) => {
    const r = await runCmd(opensslBin, ['s_client', '-connect', `${ip}:${PORT}`, '-showcerts', '-CAfile', BUNDLE, '-verify_ip', ip], { input: '', env: cleanEnv(), timeoutMs: 15_000 });
    const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout);
    const cert = m ? new crypto.X509Certificate(m[0]) : null;
    const verify = /Verify return code: (\d+) \(([^)]*)\)/.exec(r.stdout);
    return { r, cert, verified: verify?.[1] === '0', verifyText: verify ? `${verify[1]} (${verify[2]})` : 'none', sans: cert?.subjectAltName ?? '' };
  };

  const caFilesFor = (host: string) => [path.join(OS_ANCHORS, `${caName}.crt`), path.join(DOCKER_CERTS_D, host, 'ca.crt'), path.join(CONTAINERS_CERTS_D, host, 'ca.crt')];
  const assertCaFiles = (host: string, when: string) => {
    for (const f of caFilesFor(host)) assert.ok(certDerOf(f)?.equals(caDer), `${when}: ${f} should hold the Lanyard CA`);
  };

  // ------------------------------------------------------------------ setup

  before(step(async () => {
    assert.equal(process.getuid?.(), 0, 'this test installs into the system trust stores: run it as root');
    curlBin = requireTool('curl');
    opensslBin = requireTool('openssl');
    dockerBin = requireTool('docker');
    updateCaBin = requireTool('update-ca-certificates');
    requireTool('ip');
    try {
      keytoolBin = requireTool('keytool');
    } catch {
      keytoolBin = null; // no Java: no Java keystore to compare
    }
    // what the machine looks like before anything happens
    start = snapshot();
    startJava = await javaEntries();

    ns = await createNetns();
    addr = `${ns.nsIp}:${PORT}`;
    dataDir = tempDir('lanyard-lan-tls');
    // 0.0.0.0 inside the namespace (only lo and our veth there): a specific bind address
    // could not answer on the address test 4 adds
    srv = await startLanyard({ wrap: ns.wrap, addr: `0.0.0.0:${PORT}`, dataDir, args: ['--no-mdns'] });
    await waitForOutput(srv, /Authentication: on/);
    const out = srv.output();
    assert.match(srv.url, /^https:/, `beyond loopback the server must use HTTPS:\n${out}`);
    admin = { user: out.match(/Created the first user: (\S+)/)![1], password: out.match(/Password: (\S+)/)![1] };
    const j = /^\s+(sh -c '.+')\s*$/m.exec(out);
    assert.ok(j, `lanyard serve printed no join command:\n${out}`);
    joinLine = j[1];

    caPem = fs.readFileSync(path.join(dataDir, 'tls', 'ca.pem'), 'utf8');
    caDer = Buffer.from(new crypto.X509Certificate(caPem).raw);
    caHex = crypto.createHash('sha256').update(caDer).digest('hex');
    caName = `lanyard-${caHex.slice(0, 16)}`;

    dk = await startDockerd();
  }));

  after(async () => {
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    await attempt('stop lanyard', async () => srv?.stop());
    await attempt('stop dockerd', async () => dk?.stop());
    if (dataDir && fs.existsSync(path.join(dataDir, 'trust', 'installed.json'))) {
      await attempt('lanyard trust uninstall', async () => {
        const r = await lanyard(['trust', 'uninstall', '--data', dataDir]);
        if (r.code !== 0) throw new Error(showCmd('lanyard trust uninstall', r));
      });
    }
    if (!caName && dataDir && fs.existsSync(path.join(dataDir, 'tls', 'ca.pem'))) {
      caDer = Buffer.from(new crypto.X509Certificate(fs.readFileSync(path.join(dataDir, 'tls', 'ca.pem'))).raw);
      caName = `lanyard-${crypto.createHash('sha256').update(caDer).digest('hex').slice(0, 16)}`;
    }
    await attempt('restore the trust stores', async () => {
      const done = await restoreTrust();
      if (done.length > 0) console.error(`lan-tls after(): cleaned up what a failed step left:\n  ${done.join('\n  ')}`);
    });
    await attempt('delete the namespace and veth', async () => ns?.destroy());
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    if (start) await attempt('machine as found', () => assertAsFound('after all tests'));
    if (problems.length > 0) throw new Error(problems.join('\n\n'));
  });

  // ------------------------------------------------------------------ 1

  it('1. before trust: curl without -k fails (exit 60), docker login fails with x509 unknown authority', step(async () => {
    // reachable and speaking TLS: only the trust is missing
    const k = await curl(`https://${addr}/v2/`, ['--insecure']);
    assert.equal(k.code, 0, showCmd('curl -k', k));
    assert.equal(k.http, '401', 'auth is on beyond loopback');
    await expectUntrusted(addr, 'before trust');
    await loginUntrusted(addr, 'before trust');
  }));

  // ------------------------------------------------------------------ 2

  it('2. lanyard trust install: curl, docker login/push/pull, trust status; uninstall: untrusted again, nothing left behind', step(async () => {
    await assertAsFound('before install');

    const inst = await lanyardOk(['trust', 'install', '--yes', '--data', dataDir, '--addr', addr]);
    assert.match(inst.stdout, /Done\./, inst.stdout);
    assertCaFiles(addr, 'after trust install');

    await expectTrusted(addr, 'after trust install');
    await loginOk(addr, 'after trust install');
    await pushImage(addr, 'lan-tls/installed:1', { pull: true });

    const st = await lanyard(['trust', 'status', '--data', dataDir, '--addr', addr, '--url', `https://${addr}`, '--json']);
    assert.equal(st.code, 0, showCmd('lanyard trust status (installed)', st));
    const states = JSON.parse(st.stdout) as { id: string; state: string; detail: string }[];
    for (const id of ['os-store', `docker:${addr}`, `podman:${addr}`, 'tls-handshake']) {
      const s = states.find((x) => x.id === id);
      assert.equal(s?.state, 'installed', `trust status ${id}: ${JSON.stringify(s ?? states)}`);
    }
    assert.deepEqual(states.filter((s) => s.state !== 'installed'), [], 'every target installed');

    const un = await lanyardOk(['trust', 'uninstall', '--data', dataDir]);
    assert.match(un.stdout, /Done\./, un.stdout);
    await expectUntrusted(addr, 'after trust uninstall');
    await loginUntrusted(addr, 'after trust uninstall');
    const st2 = await lanyard(['trust', 'status', '--data', dataDir, '--addr', addr, '--json']);
    assert.equal(st2.code, 1, showCmd('lanyard trust status (uninstalled) should exit 1', st2));
    assert.ok(!fs.existsSync(path.join(dataDir, 'trust', 'installed.json')), 'the install record is gone');

    // the Java keystore is fed by update-ca-certificates' hook; checked in 2b
    javaAfterUninstall = await javaEntries();
    const cleaned = await restoreTrust();
    assert.deepEqual(cleaned.filter((c) => !c.includes(JAVA_KEYSTORE)), [], 'lanyard trust uninstall left files behind');
    await assertAsFound('after trust uninstall');
  }));

  it('2b. trust uninstall also takes the CA out of the Java keystore', () => {
    if (javaAfterUninstall === null) return; // no Java keystore on this machine
    const left = javaAfterUninstall.filter((e) => e.startsWith(`${javaAlias()} `) && !(startJava ?? []).includes(e));
    assert.deepEqual(left, [], `after lanyard trust uninstall, ${JAVA_KEYSTORE} still trusts the Lanyard CA`);
  });

  // ------------------------------------------------------------------ 3

  it('3. the pinned join command trusts the registry; a wrong fingerprint installs nothing', step(async () => {
    await expectUntrusted(addr, 'before the join command');

    // what `lanyard serve` printed is what `lanyard trust join-command` prints
    const jc = await lanyardOk(['trust', 'join-command', '--data', dataDir, '--addr', addr]);
    assert.equal(jc.stdout.trim(), joinLine, 'serve and trust join-command print the same command');
    assert.ok(joinLine.includes(caHex), 'the command pins the CA fingerprint');
    assert.ok(joinLine.includes(`https://${addr}/lanyard/ca.crt`), joinLine);

    const join = await runCmd('sh', ['-c', joinLine], { env: cleanEnv(), timeoutMs: 180_000 });
    assert.equal(join.code, 0, showCmd('the join command', join));
    assert.match(join.stdout, /This machine now trusts the registry/, join.stdout);
    assert.ok(join.stdout.includes(`docker login ${addr}`), join.stdout);
    assertCaFiles(addr, 'after the join command');

    await expectTrusted(addr, 'after the join command');
    await loginOk(addr, 'after the join command');
    await pushImage(addr, 'lan-tls/joined:1');

    // undo what join.sh installed: the CA files (for every address it knows), their new
    // folders, then the bundle and links
    const cleaned = await restoreTrust({ refresh: true });
    for (const f of caFilesFor(addr)) assert.ok(cleaned.includes(`removed ${f}`), `cleanup removed ${f}: ${cleaned.join('; ')}`);
    await assertAsFound('after removing what the join command installed');
    await expectUntrusted(addr, 'after removing what the join command installed');
    await loginUntrusted(addr, 'after removing what the join command installed');

    // one hex digit changed: the command was made for another CA
    const i = 17;
    const bad = caHex.slice(0, i) + (caHex[i] === '0' ? '1' : '0') + caHex.slice(i + 1);
    const tampered = joinLine.split(caHex).join(bad);
    assert.notEqual(tampered, joinLine);
    const wrong = await runCmd('sh', ['-c', tampered], { env: cleanEnv(), timeoutMs: 60_000 });
    assert.notEqual(wrong.code, 0, showCmd('the join command with a wrong fingerprint should fail', wrong));
    assert.ok(
      wrong.stderr.includes(`CA fingerprint mismatch: expected ${bad}, got ${caHex}`) && wrong.stderr.includes('Nothing was installed'),
      showCmd('the mismatch message', wrong),
    );
    await assertAsFound('after the join command with a wrong fingerprint');
    await expectUntrusted(addr, 'after the join command with a wrong fingerprint');
  }));

  // ------------------------------------------------------------------ 4

  it('4. a new LAN address: the leaf is re-issued from the same CA, trusting clients keep working', step(async (t: TestContext) => {
    await lanyardOk(['trust', 'install', '--yes', '--data', dataDir, '--addr', addr]);
    await expectTrusted(addr, 'after trust install');

    const ip3 = `${ns!.subnet}.3`;
    const before2 = await serverLeaf(ns!.nsIp);
    assert.ok(before2.cert, showCmd(`openssl s_client ${ns!.nsIp}`, before2.r));
    assert.ok(before2.verified, `the leaf at ${ns!.nsIp} verifies with the OS store: ${before2.verifyText}`);
    assert.ok(before2.sans.includes(`IP Address:${ns!.nsIp}`), before2.sans);
    assert.ok(!before2.sans.includes(`IP Address:${ip3}`), before2.sans);

    await ns!.addAddress(`${ip3}/24`);
    const t0 = Date.now();
    let now3 = await serverLeaf(ip3);
    while (!(now3.cert && now3.sans.includes(`IP Address:${ip3}`))) {
      if (Date.now() - t0 > REISSUE_DEADLINE_MS) {
        assert.fail(`no leaf with ${ip3} in its SANs after ${REISSUE_DEADLINE_MS} ms; last: ${now3.sans || showCmd('openssl s_client', now3.r)}`);
      }
      await sleep(1000);
      now3 = await serverLeaf(ip3);
    }
    t.diagnostic(`re-issued leaf seen ${Date.now() - t0} ms after adding ${ip3} (watcher: every 30 s)`);
    assert.ok(now3.verified, `the new leaf verifies for ${ip3} with the OS store: ${now3.verifyText}`);
    assert.notEqual(now3.cert!.fingerprint256, before2.cert!.fingerprint256, 'a new leaf');
    const ca = new crypto.X509Certificate(caPem);
    assert.ok(now3.cert!.checkIssued(ca) && now3.cert!.verify(ca.publicKey), 'the new leaf is signed by the same CA');
    assert.ok(now3.sans.includes(`IP Address:${ns!.nsIp}`), `the new leaf still covers ${ns!.nsIp}: ${now3.sans}`);

    // curl with the OS store, no re-trust: both addresses
    await expectTrusted(`${ip3}:${PORT}`, 'after the re-issue');
    await expectTrusted(addr, 'after the re-issue');
    const after2 = await serverLeaf(ns!.nsIp);
    assert.equal(after2.cert?.fingerprint256, now3.cert!.fingerprint256, `new connections to ${ns!.nsIp} get the new leaf`);
    assert.ok(after2.verified, after2.verifyText);
    await loginOk(addr, 'after the re-issue');

    // the CA did not change: served, on disk, by fingerprint
    const caRes = await runCmd(curlBin, ['--silent', '--show-error', '--fail', '--noproxy', '*', '--max-time', '15', `https://${ip3}:${PORT}/lanyard/ca.crt`], { env: cleanEnv(), timeoutMs: 30_000 });
    assert.equal(caRes.code, 0, showCmd('curl /lanyard/ca.crt', caRes));
    const served = Buffer.from(new crypto.X509Certificate(caRes.stdout).raw);
    assert.equal(crypto.createHash('sha256').update(served).digest('hex'), caHex, 'the CA fingerprint is unchanged');
    assert.equal(fs.readFileSync(path.join(dataDir, 'tls', 'ca.pem'), 'utf8'), caPem, 'ca.pem is unchanged');

    // the server logged the re-issue
    const logFile = path.join(dataDir, 'logs', 'lanyard.jsonl');
    let event: { detail?: { reason?: string; sans?: string[] } } | undefined;
    for (let i = 0; i < 50 && !event; i++) {
      const lines = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : [];
      event = lines.map((l) => JSON.parse(l)).find((e) => e.type === 'server' && e.action === 'certificate');
      if (!event) await sleep(100);
    }
    assert.equal(event?.detail?.reason, 'addresses', `certificate event: ${JSON.stringify(event)}`);
    assert.ok(event?.detail?.sans?.includes(ip3), JSON.stringify(event));

    await lanyardOk(['trust', 'uninstall', '--data', dataDir]);
    await restoreTrust(); // the Java keystore entry (2b)
    await assertAsFound('after the re-issue test');
  }));
});
