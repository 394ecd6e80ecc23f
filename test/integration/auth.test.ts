// Access control with real clients: a private dockerd, skopeo, the `htpasswd` tool, curl and
// Debian's docker-registry (registry:2) against `lanyard serve --auth`.
//
// Servers, all started in `before` (each with its own data dir) and stopped by PID in `after`:
//  - main:    Basic challenge (realm set with --realm), users made with `lanyard users`
//  - lock:    lockout after 3 failures, 2 s lock (settings.json written before the start)
//  - anon:    anonymous pull on (Bearer challenge, token endpoint), first admin created by serve
//  - interop: users file shared with a registry:2 (REGISTRY_AUTH_HTPASSWD_PATH, no --auth flag)
// Every request comes from 127.0.0.1, and failed logins also count per client address: the
// servers other than `lock` get a high lockout limit, so the failures this file makes on
// purpose cannot lock it out.
//
// Passwords come from test/helpers/secrets.ts; test/final/logs.test.ts greps every server log
// of the suite for them after the run.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { requireTool, sleep, tempDir } from '../helpers/proc';
import { startLanyard, lanyardBin, LanyardServer } from '../helpers/lanyard';
import { startRefRegistry, RefRegistry } from '../helpers/refregistry';
import { startDockerd, Dockerd, imageId, pushedDigest } from '../helpers/dockerd';
import { buildImage } from '../helpers/images';
import { USERS, WRONG_PASSWORDS, secretNeedles, TestCredential } from '../helpers/secrets';

const REALM = 'Lanyard Auth Test';
const INTEROP_REALM = 'Lanyard Interop Realm';
const BASE = 'lanyard-auth-test/base:latest'; // a local image, re-tagged for every push
const FRESH = 'lanyard-auth-test/fresh:latest'; // built later, so that its layer is new to the registry
const HIGH_LOCKOUT = { attempts: 1000, windowSeconds: 300, lockSeconds: 300 };

interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Run a command (optionally feeding stdin); never throws for a non-zero exit or a timeout. */
function runCmd(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => { if (stdout.length < 1_000_000) stdout += b.toString(); });
    child.stderr!.on('data', (b: Buffer) => { if (stderr.length < 1_000_000) stderr += b.toString(); });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? 120_000);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

function show(what: string, r: CmdResult): string {
  return `${what}: exit ${r.code}${r.timedOut ? ' (killed: timeout)' : ''} after ${r.ms} ms\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}

function basic(c: { user: string; password: string }): string {
  return `Basic ${Buffer.from(`${c.user}:${c.password}`).toString('base64')}`;
}

function writeSettings(dataDir: string, s: { anonymousPull: boolean; lockout: { attempts: number; windowSeconds: number; lockSeconds: number } }): void {
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify(s, null, 2) + '\n');
}

/** The OCI error JSON of a response: status, Content-Type and the first error's code. */
async function expectOciError(res: Response, status: number, code: string, what: string): Promise<{ code: string; message: string }> {
  const text = await res.text();
  assert.equal(res.status, status, `${what}: status ${res.status} ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${what}: Content-Type`);
  assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0', `${what}: API version header`);
  let body: { errors?: { code: string; message: string }[] };
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`${what}: body is not JSON: ${text}`);
  }
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `${what}: no errors array: ${text}`);
  assert.equal(body.errors[0].code, code, `${what}: ${text}`);
  assert.equal(typeof body.errors[0].message, 'string', `${what}: message`);
  return body.errors[0];
}

describe('access control with real clients (docker, skopeo, htpasswd, registry:2)', { timeout: 300_000 }, () => {
  let work = '';
  let dk: Dockerd | undefined;
  let dockerBin = '';
  let skopeoBin = '';
  let htpasswdBin = '';
  let curlBin = '';
  let failed = false;
  let baseId = '';
  const lanyards: LanyardServer[] = [];
  let ref: RefRegistry | undefined;

  let main!: LanyardServer; // Basic auth, users made with `lanyard users` before the start
  let lock!: LanyardServer; // lockout after 3 failures, 2 s lock
  let anon!: LanyardServer; // anonymous pull on; its first admin is created by serve
  let interop!: LanyardServer; // users file shared with `ref`, found via REGISTRY_AUTH_HTPASSWD_PATH
  let shared = ''; // that users file
  let anonAdmin = { user: '', password: '' }; // parsed from anon's output (printed once)
  const issuedTokens: string[] = []; // Bearer tokens this file received: never in a log either

  const dumpLogs = () => {
    failed = true;
    for (const s of lanyards) console.error(`--- lanyard ${s.url} output (last 40 lines) ---\n${s.output().split('\n').slice(-40).join('\n')}`);
    if (dk) console.error(`--- dockerd log (last 40 lines) ---\n${dk.logTail(40)}`);
  };
  const step = <A extends unknown[]>(fn: (...a: A) => Promise<void>) => async (...a: A) => {
    try { await fn(...a); } catch (e) { dumpLogs(); throw e; }
  };

  // ------------------------------------------------------------------ clients

  const docker = (args: string[], o: { input?: string; timeoutMs?: number } = {}) =>
    runCmd(dockerBin, args, { env: dk!.env, input: o.input, timeoutMs: o.timeoutMs ?? 120_000 });
  const dockerOk = async (args: string[], o: { input?: string; timeoutMs?: number } = {}) => {
    const r = await docker(args, o);
    assert.equal(r.code, 0, show(`docker ${args.join(' ')}`, r));
    return r;
  };
  const login = (host: string, c: { user: string; password: string }) =>
    docker(['login', '--username', c.user, '--password-stdin', host], { input: c.password + '\n', timeoutMs: 30_000 });
  const loginOk = async (host: string, c: { user: string; password: string }) => {
    const r = await login(host, c);
    assert.equal(r.code, 0, show(`docker login ${host} as ${c.user}`, r));
    assert.match(r.stdout, /Login Succeeded/);
  };
  const logout = (host: string) => dockerOk(['logout', host]);
  /** Tag the base image as host/repo:tag and push it; returns the manifest digest. */
  const pushOk = async (host: string, repoTag: string) => {
    await dockerOk(['tag', BASE, `${host}/${repoTag}`]);
    const r = await dockerOk(['push', `${host}/${repoTag}`]);
    return pushedDigest(r.stdout);
  };
  /** Tag and push, expecting failure; returns the failed result. */
  const pushFails = async (host: string, repoTag: string, timeoutMs = 60_000) => {
    await dockerOk(['tag', BASE, `${host}/${repoTag}`]);
    const r = await docker(['push', `${host}/${repoTag}`], { timeoutMs });
    assert.notEqual(r.code, 0, show(`docker push ${host}/${repoTag} should fail`, r));
    return r;
  };
  /** Untag, pull again; the image ID must be the base image's. */
  const pullOk = async (host: string, repoTag: string, digest?: string) => {
    await docker(['rmi', `${host}/${repoTag}`]); // may not be tagged here
    const r = await dockerOk(['pull', `${host}/${repoTag}`]);
    if (digest) assert.match(r.stdout, new RegExp(`Digest: ${digest}`), r.stdout);
    assert.equal(await imageId(dk!, `${host}/${repoTag}`), baseId);
  };
  const pullFails = async (host: string, repoTag: string) => {
    await docker(['rmi', `${host}/${repoTag}`]);
    const r = await docker(['pull', `${host}/${repoTag}`], { timeoutMs: 60_000 });
    assert.notEqual(r.code, 0, show(`docker pull ${host}/${repoTag} should fail`, r));
    return r;
  };

  /** `lanyard users ...` against a data dir (and optionally another htpasswd file). */
  const users = async (dataDir: string, args: string[], input?: string, htpasswd?: string) => {
    const all = ['users', ...args, '--data', dataDir, ...(htpasswd ? ['--htpasswd', htpasswd] : [])];
    const r = await runCmd(process.execPath, [lanyardBin, ...all], { input, timeoutMs: 30_000 });
    assert.equal(r.code, 0, show(`lanyard ${all.join(' ')}`, r));
    return r.stdout;
  };
  const addUser = (dataDir: string, c: TestCredential, role: 'admin' | 'push' | 'pull', htpasswd?: string) =>
    users(dataDir, ['add', c.user, '--role', role, '--password-stdin'], c.password + '\n', htpasswd);

  /** skopeo with a private policy/registries config and no stored credentials anywhere. */
  const skopeo = (args: string[]) => runCmd(skopeoBin, [
    '--policy', path.join(work, 'skopeo', 'policy.json'),
    '--registries.d', path.join(work, 'skopeo', 'registries.d'),
    '--tmpdir', path.join(work, 'skopeo', 'tmp'),
    ...args,
  ], {
    env: {
      ...process.env,
      CONTAINERS_REGISTRIES_CONF: path.join(work, 'skopeo', 'registries.conf'),
      REGISTRY_AUTH_FILE: path.join(work, 'skopeo', 'auth.json'),
      DOCKER_CONFIG: path.join(work, 'skopeo', 'docker'),
      TMPDIR: path.join(work, 'skopeo', 'tmp'),
    },
    timeoutMs: 60_000,
  });

  /** A call to the private dockerd's own API (what `docker login` sends it). */
  const dockerApi = (method: string, p: string, body?: unknown) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request({
        socketPath: dk!.socket, method, path: `/v${dk!.apiVersion}${p}`,
        headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {},
      }, (res) => {
        let text = '';
        res.on('data', (b: Buffer) => { text += b.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`dockerd API ${method} ${p} timed out`)));
      req.end(data);
    });

  const get = (url: string, auth?: string, init: RequestInit = {}) =>
    fetch(url, { ...init, headers: { ...(auth ? { Authorization: auth } : {}), ...(init.headers as Record<string, string> | undefined) } });
  const catalog = async (s: LanyardServer, auth?: string): Promise<string[]> => {
    const r = await get(`${s.url}/v2/_catalog`, auth);
    const text = await r.text();
    assert.equal(r.status, 200, `catalog: ${r.status} ${text}`);
    return (JSON.parse(text) as { repositories: string[] }).repositories;
  };
  const tags = async (s: LanyardServer, repo: string): Promise<string[]> => {
    const r = await get(`${s.url}/v2/${repo}/tags/list`, basic(USERS.alice));
    if (r.status === 404) return [];
    const text = await r.text();
    assert.equal(r.status, 200, `tags of ${repo}: ${r.status} ${text}`);
    return ((JSON.parse(text) as { tags: string[] | null }).tags ?? []).slice().sort();
  };

  const startTracked = async (opts: Parameters<typeof startLanyard>[0]) => {
    const s = await startLanyard(opts);
    lanyards.push(s);
    return s;
  };

  // ------------------------------------------------------------------ setup

  before(step(async () => {
    dockerBin = requireTool('docker');
    skopeoBin = requireTool('skopeo');
    htpasswdBin = requireTool('htpasswd');
    curlBin = requireTool('curl');
    requireTool('docker-registry');
    work = tempDir('lanyard-it-auth');
    fs.mkdirSync(path.join(work, 'skopeo', 'registries.d'), { recursive: true });
    fs.mkdirSync(path.join(work, 'skopeo', 'tmp'));
    fs.mkdirSync(path.join(work, 'skopeo', 'docker'));
    fs.writeFileSync(path.join(work, 'skopeo', 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    fs.writeFileSync(path.join(work, 'skopeo', 'registries.conf'), 'unqualified-search-registries = []\n');
    fs.writeFileSync(path.join(work, 'skopeo', 'auth.json'), '{"auths":{}}\n');

    dk = await startDockerd();
    baseId = (await buildImage(dk, [192 * 1024], { tags: [BASE] })).id;

    // the main registry: users and settings exist before it starts
    const dataDir = path.join(work, 'main');
    writeSettings(dataDir, { anonymousPull: false, lockout: HIGH_LOCKOUT });
    await addUser(dataDir, USERS.alice, 'admin');
    await addUser(dataDir, USERS.puller, 'pull');
    await addUser(dataDir, USERS.ci, 'pull');
    await addUser(dataDir, USERS.carol, 'push');
    await addUser(dataDir, USERS.spy, 'push');
    await users(dataDir, ['rule', USERS.spy.user, 'secret/*', 'none']);
    main = await startTracked({ dataDir, args: ['--auth', '--realm', REALM] });

    // the lockout registry: 3 failures lock for 2 s (settings.json written before the start)
    const lockDir = path.join(work, 'lock');
    writeSettings(lockDir, { anonymousPull: false, lockout: { attempts: 3, windowSeconds: 60, lockSeconds: 2 } });
    await addUser(lockDir, USERS.locky, 'push');
    lock = await startTracked({ dataDir: lockDir, args: ['--auth'] });

    // anonymous pull on, and no users yet: serve creates the first admin and prints its password
    const anonDir = path.join(work, 'anon');
    writeSettings(anonDir, { anonymousPull: true, lockout: HIGH_LOCKOUT });
    anon = await startTracked({ dataDir: anonDir, args: ['--auth'] });
    const m = anon.output().match(/Created the first user: (\S+)[\s\S]*?Password: (\S+)/);
    if (m) anonAdmin = { user: m[1], password: m[2] };

    // one users file for registry:2 and Lanyard: a user written by Lanyard's CLI, one by
    // Apache's htpasswd (-n prints the line; appended here)
    shared = path.join(work, 'shared', 'htpasswd');
    const interopDir = path.join(work, 'interop');
    writeSettings(interopDir, { anonymousPull: false, lockout: HIGH_LOCKOUT });
    await addUser(interopDir, USERS.lanyardmade, 'push', shared);
    const hn = await runCmd(htpasswdBin, ['-Bbn', USERS.htmade.user, USERS.htmade.password]);
    assert.equal(hn.code, 0, show('htpasswd -Bbn', hn));
    fs.appendFileSync(shared, hn.stdout);
    ref = await startRefRegistry({ htpasswd: shared, realm: 'ref-realm' });
    // no --auth: users in the file (named by registry:2's variable) turn auth on
    interop = await startTracked({ dataDir: interopDir, env: { REGISTRY_AUTH_HTPASSWD_PATH: shared, REGISTRY_AUTH_HTPASSWD_REALM: INTEROP_REALM } });
  }));

  after(async () => {
    for (const s of lanyards) await s.stop().catch(() => undefined);
    if (ref) await ref.stop().catch(() => undefined);
    if (failed && work) {
      for (const [i, s] of lanyards.entries()) fs.writeFileSync(path.join(work, `lanyard-${i}.out`), s.output());
      if (dk) fs.copyFileSync(dk.logFile, path.join(work, 'dockerd.log'));
    }
    if (dk) await dk.stop();
    if (ref?.dataDir) fs.rmSync(ref.dataDir, { recursive: true, force: true });
    if (work) {
      if (failed) console.error(`logs kept in ${work}`);
      else fs.rmSync(work, { recursive: true, force: true });
    }
  });

  // ------------------------------------------------------------------ error answers

  it('401 is OCI error JSON with code UNAUTHORIZED and the Basic challenge; 403 is DENIED', { timeout: 30_000 }, step(async () => {
    assert.match(main.output(), /Authentication: on/);
    assert.doesNotMatch(main.output(), /Password:/, 'users existed: no first admin is created');
    const challenge = `Basic realm="${REALM}"`;
    for (const [what, auth] of [
      ['no credentials', undefined],
      ['a wrong password', basic({ user: USERS.alice.user, password: WRONG_PASSWORDS[1] })],
      ['an unknown user', basic({ user: 'nobody', password: WRONG_PASSWORDS[0] })],
    ] as const) {
      for (const p of ['/v2/', '/v2/_catalog', '/v2/app/web/tags/list', '/v2/app/web/manifests/v1']) {
        const r = await get(`${main.url}${p}`, auth);
        assert.equal(r.headers.get('www-authenticate'), challenge, `GET ${p} with ${what}: challenge`);
        await expectOciError(r, 401, 'UNAUTHORIZED', `GET ${p} with ${what}`);
      }
    }
    // a push attempt without credentials: 401 too, not 403
    const post = await get(`${main.url}/v2/app/web/blobs/uploads/`, undefined, { method: 'POST' });
    assert.equal(post.headers.get('www-authenticate'), challenge);
    await expectOciError(post, 401, 'UNAUTHORIZED', 'POST upload without credentials');
    // HEAD: 401 with the challenge, no body
    const head = await get(`${main.url}/v2/app/web/manifests/v1`, undefined, { method: 'HEAD' });
    assert.equal(head.status, 401);
    assert.equal(head.headers.get('www-authenticate'), challenge);

    // known user, not allowed: 403 DENIED
    const denied = await get(`${main.url}/v2/app/web/blobs/uploads/`, basic(USERS.puller), { method: 'POST' });
    const e = await expectOciError(denied, 403, 'DENIED', 'POST upload as a pull user');
    assert.match(e.message, /puller/);
    const none = await get(`${main.url}/v2/secret/db/tags/list`, basic(USERS.spy));
    await expectOciError(none, 403, 'DENIED', 'tags list of secret/db for a user with a none rule');

    const ok = await get(`${main.url}/v2/`, basic(USERS.alice));
    assert.equal(ok.status, 200);
  }));

  // ------------------------------------------------------------------ docker login / push / pull

  it('docker login fails with no credentials, an unknown user or a wrong password, and succeeds with the right one', { timeout: 60_000 }, step(async () => {
    // the CLI itself refuses to log in without credentials when it cannot prompt
    const noTty = await docker(['login', main.host], { timeoutMs: 30_000 });
    assert.notEqual(noTty.code, 0, show('docker login without credentials', noTty));
    assert.doesNotMatch(noTty.stdout, /Login Succeeded/);
    // the daemon's login (POST /auth, what `docker login` calls) with no credentials at all
    const empty = await dockerApi('POST', '/auth', { serveraddress: main.host });
    assert.notEqual(empty.status, 200, `dockerd /auth without credentials: ${empty.status} ${empty.body}`);
    assert.match(empty.body, /no basic auth credentials|401 Unauthorized/, empty.body);

    const unknown = await login(main.host, { user: 'nobody', password: WRONG_PASSWORDS[0] });
    assert.notEqual(unknown.code, 0, show('docker login as an unknown user', unknown));
    assert.match(unknown.stderr, /401 Unauthorized/, unknown.stderr);

    const wrong = await login(main.host, { user: USERS.alice.user, password: WRONG_PASSWORDS[1] });
    assert.notEqual(wrong.code, 0, show('docker login with a wrong password', wrong));
    assert.match(wrong.stderr, /401 Unauthorized/, wrong.stderr);
    const cfgFile = path.join(dk!.env.DOCKER_CONFIG!, 'config.json');
    const stored = fs.existsSync(cfgFile) ? (JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as { auths?: Record<string, unknown> }).auths ?? {} : {};
    assert.equal(stored[main.host], undefined, 'a failed login stores no credentials');

    await loginOk(main.host, USERS.alice);
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.ok(cfg.auths[main.host]?.auth, `credentials stored for ${main.host}`);
  }));

  let webDigest = '';

  it('logged in: docker push and docker pull work', { timeout: 60_000 }, step(async () => {
    webDigest = await pushOk(main.host, 'app/web:v1');
    assert.deepEqual(await tags(main, 'app/web'), ['v1']);
    await pullOk(main.host, 'app/web:v1', webDigest);
  }));

  it('after docker logout: docker push and docker pull fail (unauthorized)', { timeout: 60_000 }, step(async () => {
    await logout(main.host);
    const push = await pushFails(main.host, 'app/web:v2');
    assert.match(push.stderr + push.stdout, /no basic auth credentials|unauthorized/i, show('push after logout', push));
    assert.deepEqual(await tags(main, 'app/web'), ['v1'], 'nothing was pushed');
    const pull = await pullFails(main.host, 'app/web:v1');
    assert.match(pull.stderr, /no basic auth credentials|unauthorized/i, show('pull after logout', pull));
  }));

  it('a pull user can docker pull, but docker push is denied', { timeout: 60_000 }, step(async () => {
    await loginOk(main.host, USERS.puller);
    await pullOk(main.host, 'app/web:v1', webDigest);
    const push = await pushFails(main.host, 'app/web:by-puller');
    assert.match(push.stderr, /denied/i, show('push as a pull user', push));
    assert.deepEqual(await tags(main, 'app/web'), ['v1']);
  }));

  it("a per-repository rule (lanyard users rule ci 'team/*' push) lets a pull user push to team/x but not to other/x", { timeout: 60_000 }, step(async () => {
    await loginOk(main.host, USERS.ci);
    const early = await pushFails(main.host, 'team/x:v1');
    assert.match(early.stderr, /denied/i, show('push to team/x before the rule', early));

    // set while the server runs: it re-reads roles.json
    await users(main.dataDir, ['rule', USERS.ci.user, 'team/*', 'push']);
    const list = await users(main.dataDir, ['list']);
    assert.match(list, /^ci\s+pull\s+team\/\*=push$/m, list);

    await pushOk(main.host, 'team/x:v1');
    assert.deepEqual(await tags(main, 'team/x'), ['v1']);
    const other = await pushFails(main.host, 'other/x:v1');
    assert.match(other.stderr, /denied/i, show('push to other/x', other));
    assert.deepEqual(await tags(main, 'other/x'), []);
    await pullOk(main.host, 'app/web:v1', webDigest); // and pull elsewhere, as its role says
    await logout(main.host);
  }));

  it('anonymous pull off: docker pull and skopeo inspect without credentials fail', { timeout: 60_000 }, step(async () => {
    const pull = await pullFails(main.host, 'app/web:v1');
    assert.match(pull.stderr, /no basic auth credentials|unauthorized/i, show('anonymous docker pull', pull));
    // no credentials stored (empty auth file), and explicitly anonymous (--no-creds)
    for (const extra of [[], ['--no-creds']]) {
      const sk = await skopeo(['inspect', '--tls-verify=false', ...extra, `docker://${main.host}/app/web:v1`]);
      assert.notEqual(sk.code, 0, show(`skopeo inspect ${extra.join(' ')} without credentials`, sk));
      assert.match(sk.stderr, /unauthorized|authentication required|401/i, sk.stderr);
    }
    // the same with credentials works (the image is there)
    const withCreds = await skopeo(['inspect', '--tls-verify=false', '--creds', `${USERS.puller.user}:${USERS.puller.password}`, `docker://${main.host}/app/web:v1`]);
    assert.equal(withCreds.code, 0, show('skopeo inspect --creds', withCreds));
    assert.equal((JSON.parse(withCreds.stdout) as { Digest: string }).Digest, webDigest);
  }));

  // ------------------------------------------------------------------ the users file changes under a running server

  it('a user added with `htpasswd -B` while the server runs can log in at once (no restart)', { timeout: 60_000 }, step(async () => {
    const htpasswdFile = path.join(main.dataDir, 'auth', 'htpasswd');
    const r = await runCmd(htpasswdBin, ['-B', '-b', htpasswdFile, USERS.dave.user, USERS.dave.password]);
    assert.equal(r.code, 0, show('htpasswd -B -b', r));
    assert.match(fs.readFileSync(htpasswdFile, 'utf8'), /^dave:\$2y\$/m, 'htpasswd wrote a bcrypt line');
    await loginOk(main.host, USERS.dave);
    await pushOk(main.host, 'dave/app:v1'); // no roles.json entry: push, like registry:2
    assert.deepEqual(await tags(main, 'dave/app'), ['v1']);
    assert.equal(main.child.exitCode, null, 'the server is still the same process');
    assert.equal(main.output().match(/listening on/g)?.length, 1, 'started once');
    await logout(main.host);
  }));

  it('a user removed with `lanyard users remove` is refused at once, also while their credentials are cached', { timeout: 60_000 }, step(async () => {
    const carol = basic(USERS.carol);
    await loginOk(main.host, USERS.carol);
    await pushOk(main.host, 'carol/app:v1');
    // two successful requests: the second is served from the credentials cache
    for (let i = 0; i < 2; i++) assert.equal((await get(`${main.url}/v2/`, carol)).status, 200);
    assert.equal((await get(`${main.url}/v2/carol/app/tags/list`, carol)).status, 200);

    await users(main.dataDir, ['remove', USERS.carol.user]);
    // no wait: the very next request must be refused
    const r = await get(`${main.url}/v2/`, carol);
    assert.equal(r.headers.get('www-authenticate'), `Basic realm="${REALM}"`);
    await expectOciError(r, 401, 'UNAUTHORIZED', 'GET /v2/ as a removed user');
    await expectOciError(await get(`${main.url}/v2/carol/app/tags/list`, carol), 401, 'UNAUTHORIZED', 'tags list as a removed user');

    // docker still holds the credentials: push and pull fail, so does a new login
    const push = await pushFails(main.host, 'carol/app:v2');
    assert.match(push.stderr, /unauthorized|invalid user name or password/i, show('push as a removed user', push));
    const pull = await pullFails(main.host, 'carol/app:v1');
    assert.match(pull.stderr, /unauthorized|invalid user name or password/i, show('pull as a removed user', pull));
    const again = await login(main.host, USERS.carol);
    assert.notEqual(again.code, 0, show('docker login as a removed user', again));
    await logout(main.host);
    assert.deepEqual(await tags(main, 'carol/app'), ['v1']);
  }));

  it('the catalog of a user with a `none` rule on secret/* lists no secret/ repository', { timeout: 60_000 }, step(async () => {
    await loginOk(main.host, USERS.alice);
    await pushOk(main.host, 'secret/db:v1');
    await pushOk(main.host, 'secret/keys:v1');
    await logout(main.host);

    const all = await catalog(main, basic(USERS.alice));
    for (const r of ['app/web', 'team/x', 'dave/app', 'carol/app', 'secret/db', 'secret/keys']) assert.ok(all.includes(r), `admin's catalog has ${r}: ${all}`);
    const spyView = await catalog(main, basic(USERS.spy));
    assert.deepEqual(spyView.filter((r) => r.startsWith('secret/')), [], `spy's catalog: ${spyView}`);
    assert.deepEqual(spyView, all.filter((r) => !r.startsWith('secret/')), 'everything else is listed');
    // and the repositories themselves are closed to that user
    await expectOciError(await get(`${main.url}/v2/secret/db/manifests/v1`, basic(USERS.spy)), 403, 'DENIED', 'secret/db manifest as spy');
    await loginOk(main.host, USERS.spy);
    const pull = await pullFails(main.host, 'secret/db:v1');
    assert.match(pull.stderr, /denied/i, show('docker pull secret/db as spy', pull));
    await pullOk(main.host, 'app/web:v1', webDigest);
    await logout(main.host);
  }));

  // ------------------------------------------------------------------ lockout

  it('lockout: after 3 wrong logins the next answers 429 with Retry-After; after the lock the right password works', { timeout: 60_000 }, step(async () => {
    const right = basic(USERS.locky);

    for (let i = 1; i <= 3; i++) {
      const r = await login(lock.host, { user: USERS.locky.user, password: WRONG_PASSWORDS[2] });
      assert.notEqual(r.code, 0, show(`wrong docker login #${i}`, r));
      assert.match(r.stderr, /401 Unauthorized/, show(`wrong docker login #${i} is a plain 401`, r));
    }
    // locked: even the right password is turned away, without being checked
    const locked = await get(`${lock.url}/v2/`, right);
    const retryAfter = Number(locked.headers.get('retry-after'));
    await expectOciError(locked, 429, 'TOOMANYREQUESTS', 'GET /v2/ with the right password while locked');
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 2, `Retry-After: ${locked.headers.get('retry-after')}`);
    const lockedLogin = await login(lock.host, USERS.locky);
    assert.notEqual(lockedLogin.code, 0, show('docker login while locked', lockedLogin));
    assert.match(lockedLogin.stderr, /429|too many/i, lockedLogin.stderr);

    await sleep(retryAfter * 1000 + 300);
    assert.equal((await get(`${lock.url}/v2/`, right)).status, 200, 'the lock has expired');
    await loginOk(lock.host, USERS.locky);
    await pushOk(lock.host, 'locky/app:v1');
    await logout(lock.host);
  }));

  // ------------------------------------------------------------------ anonymous pull

  it('anonymous pull on: Bearer challenge and token endpoint; the first admin is created and printed once', { timeout: 60_000 }, step(async () => {
    assert.ok(anonAdmin.password, `serve printed the first admin and its password:\n${anon.output()}`);
    assert.equal(anonAdmin.user, 'admin');
    assert.equal(anon.output().match(/Password:/g)?.length, 1, 'the password is printed once');
    assert.match(fs.readFileSync(path.join(anon.dataDir, 'auth', 'htpasswd'), 'utf8'), /^admin:\$2y\$/m, 'stored as a bcrypt hash only');
    assert.match(anon.output(), /anonymous pull allowed/);

    const ping = await get(`${anon.url}/v2/`);
    assert.equal(ping.headers.get('www-authenticate'), `Bearer realm="${anon.url}/lanyard/token",service="lanyard"`);
    await expectOciError(ping, 401, 'UNAUTHORIZED', 'GET /v2/ without a token');

    const anonToken = await get(`${anon.url}/lanyard/token?service=lanyard&scope=repository:pub/app:pull`);
    assert.equal(anonToken.status, 200);
    const tok = (await anonToken.json()) as { token: string; access_token: string; expires_in: number };
    assert.ok(tok.token && tok.token === tok.access_token, 'token and access_token');
    assert.ok(tok.expires_in > 0, 'expires_in');
    issuedTokens.push(tok.token);
    assert.equal((await get(`${anon.url}/v2/`, `Bearer ${tok.token}`)).status, 200, 'ping with an anonymous token');

    const wrong = await get(`${anon.url}/lanyard/token`, basic({ user: anonAdmin.user, password: WRONG_PASSWORDS[0] }));
    await expectOciError(wrong, 401, 'UNAUTHORIZED', 'token with a wrong password');
    const forged = await get(`${anon.url}/v2/`, `Bearer ${tok.token.slice(0, -2)}xx`);
    await expectOciError(forged, 401, 'UNAUTHORIZED', 'a tampered token');
  }));

  let pubDigest = '';

  it('anonymous pull on: a logged-in push works (Bearer flow); docker pull and skopeo inspect work without login', { timeout: 60_000 }, step(async () => {
    assert.ok(anonAdmin.password, 'the first admin of the anonymous-pull registry is known');
    await loginOk(anon.host, anonAdmin);
    pubDigest = await pushOk(anon.host, 'pub/app:v1');
    await logout(anon.host);

    await pullOk(anon.host, 'pub/app:v1', pubDigest);
    for (const extra of [[], ['--no-creds']]) {
      const sk = await skopeo(['inspect', '--tls-verify=false', ...extra, `docker://${anon.host}/pub/app:v1`]);
      assert.equal(sk.code, 0, show(`skopeo inspect ${extra.join(' ')} without credentials`, sk));
      assert.equal((JSON.parse(sk.stdout) as { Digest: string }).Digest, pubDigest);
    }
    const tagsSk = await skopeo(['list-tags', '--tls-verify=false', '--no-creds', `docker://${anon.host}/pub/app`]);
    assert.equal(tagsSk.code, 0, show('skopeo list-tags without credentials', tagsSk));
    assert.deepEqual((JSON.parse(tagsSk.stdout) as { Tags: string[] }).Tags, ['v1']);
    assert.deepEqual(await catalog(anon), ['pub/app'], 'anonymous catalog');
  }));

  it('anonymous pull on: an anonymous docker push is refused, at once', { timeout: 90_000 }, step(async () => {
    assert.ok(pubDigest, 'the anonymous-pull registry has pub/app:v1');
    // (a) only the manifest is new (the layers are in pub/app already): refused at the PUT
    const manifestOnly = await pushFails(anon.host, 'pub/app:anon', 20_000);
    assert.equal(manifestOnly.timedOut, false, show('anonymous push of a new tag', manifestOnly));
    assert.match(manifestOnly.stderr, /denied|unauthorized|authentication required/i, show('anonymous push of a new tag', manifestOnly));
    assert.equal((await get(`${anon.url}/v2/pub/app/manifests/anon`, undefined, { method: 'HEAD' })).status, 404, 'no tag "anon"');

    // (b) a new image, so a layer has to be uploaded. docker retries a failed layer upload
    // 5 times (about 50 s) unless the error says the request can never succeed; 20 s is far
    // more than a clear refusal takes.
    await buildImage(dk!, [64 * 1024], { tags: [FRESH] });
    await dockerOk(['tag', FRESH, `${anon.host}/pub/fresh:v1`]);
    const upload = await docker(['push', `${anon.host}/pub/fresh:v1`], { timeoutMs: 20_000 });
    assert.notEqual(upload.code, 0, show('anonymous push of a new image', upload));
    assert.equal(upload.timedOut, false,
      `anonymous docker push of a new layer was still retrying after ${upload.ms} ms instead of failing: ` +
      'the registry should refuse an anonymous push in a way docker does not retry ' +
      `(e.g. 401 with error="insufficient_scope" in the Bearer challenge, or 403 DENIED)\n${show('anonymous push of a new image', upload)}`);
    assert.match(upload.stderr, /denied|unauthorized|authentication required/i, show('anonymous push of a new image', upload));
    assert.deepEqual(await catalog(anon), ['pub/app'], 'no repository pub/fresh was created');
  }));

  it('anonymous pull on: after a refused anonymous push, a logged-in push works', { timeout: 60_000 }, step(async () => {
    assert.ok(anonAdmin.password, 'the first admin of the anonymous-pull registry is known');
    await loginOk(anon.host, anonAdmin);
    await pushOk(anon.host, 'pub/app:v2');
    await dockerOk(['tag', FRESH, `${anon.host}/pub/fresh:v1`]); // (built by the previous test)
    const r = await docker(['push', `${anon.host}/pub/fresh:v1`]);
    assert.equal(r.code, 0, show('logged-in push of a new image', r));
    await logout(anon.host);
    const t = await get(`${anon.url}/v2/pub/app/tags/list`);
    assert.deepEqual(((await t.json()) as { tags: string[] }).tags.sort(), ['v1', 'v2']);
    assert.deepEqual(await catalog(anon), ['pub/app', 'pub/fresh']);
  }));

  it("a user's Bearer token is refused at once when the user is removed", { timeout: 30_000 }, step(async () => {
    await addUser(anon.dataDir, USERS.tokenuser, 'push');
    const r = await get(`${anon.url}/lanyard/token?service=lanyard&scope=repository:pub/app:pull,push`, basic(USERS.tokenuser));
    assert.equal(r.status, 200);
    const { token } = (await r.json()) as { token: string };
    issuedTokens.push(token);
    const bearer = `Bearer ${token}`;
    assert.equal((await get(`${anon.url}/v2/`, bearer)).status, 200);
    const up = await get(`${anon.url}/v2/pub/app/blobs/uploads/`, bearer, { method: 'POST' });
    assert.equal(up.status, 202, 'the token may push');
    await users(anon.dataDir, ['remove', USERS.tokenuser.user]);
    const revoked = await get(`${anon.url}/v2/pub/app/blobs/uploads/`, bearer, { method: 'POST' });
    assert.match(revoked.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
    await expectOciError(revoked, 401, 'UNAUTHORIZED', 'POST upload with the token of a removed user');
  }));

  // ------------------------------------------------------------------ registry:2 and Lanyard, one users file

  it('registry:2 and Lanyard accept the same htpasswd file, whichever tool wrote the users', { timeout: 90_000 }, step(async () => {
    const text = fs.readFileSync(shared, 'utf8');
    assert.match(text, /^lanyardmade:\$2y\$10\$/m, 'Lanyard writes $2y$ bcrypt');
    assert.match(text, /^htmade:\$2y\$/m);
    const lan = interop;
    assert.match(lan.output(), new RegExp(`Authentication: on \\(users in ${shared.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), lan.output());
    assert.doesNotMatch(lan.output(), /Password:/);

    const curlStatus = async (url: string, c: { user: string; password: string }) => {
      const r = await runCmd(curlBin, ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', '-u', `${c.user}:${c.password}`, url]);
      assert.equal(r.code, 0, show(`curl ${url}`, r));
      return r.stdout.trim();
    };
    for (const [name, base] of [['registry:2', ref!.url], ['lanyard', lan.url]] as const) {
      assert.equal(await curlStatus(`${base}/v2/`, USERS.lanyardmade), '200', `${name} accepts the user lanyard wrote`);
      assert.equal(await curlStatus(`${base}/v2/`, USERS.htmade), '200', `${name} accepts the user htpasswd wrote`);
      assert.equal(await curlStatus(`${base}/v2/`, { user: USERS.htmade.user, password: WRONG_PASSWORDS[0] }), '401', `${name} refuses a wrong password`);
    }
    assert.equal((await get(`${lan.url}/v2/`)).headers.get('www-authenticate'), `Basic realm="${INTEROP_REALM}"`, 'realm from REGISTRY_AUTH_HTPASSWD_REALM');

    // and with the docker client: lanyard's user on registry:2, htpasswd's user on lanyard
    await loginOk(ref!.host, USERS.lanyardmade);
    const refDigest = await pushOk(ref!.host, 'interop/img:v1');
    await logout(ref!.host);
    await loginOk(lan.host, USERS.htmade);
    const lanDigest = await pushOk(lan.host, 'interop/img:v1');
    await pullOk(lan.host, 'interop/img:v1', lanDigest);
    await logout(lan.host);
    assert.equal(lanDigest, refDigest, 'the same image, the same manifest on both');
  }));

  // ------------------------------------------------------------------ logs

  it("no password, token or hash reaches these servers' logs", { timeout: 60_000 }, step(async () => {
    // stopped first, so every buffered line is on disk (after() finds them stopped)
    for (const s of lanyards) await s.stop();
    const needles = [
      ...secretNeedles(),
      ...(anonAdmin.password ? [{ what: 'the first admin password', needle: anonAdmin.password }] : []),
      ...issuedTokens.map((t, i) => ({ what: `issued token #${i + 1}`, needle: t.split('.')[1] ?? t })),
      { what: 'Authorization', needle: 'Authorization' },
      { what: 'Basic credentials', needle: 'Basic ' },
      { what: 'Bearer credentials', needle: 'Bearer ' },
      { what: 'bcrypt hash ($2y$)', needle: '$2y$' },
      { what: 'bcrypt hash ($2b$)', needle: '$2b$' },
    ];
    const findings: string[] = [];
    const events: { action?: string; type?: string; user?: string | null }[] = [];
    for (const s of lanyards) {
      const logs = path.join(s.dataDir, 'logs');
      for (const f of fs.readdirSync(logs).filter((n) => n.includes('.jsonl'))) {
        const lines = fs.readFileSync(path.join(logs, f), 'utf8').split('\n').filter(Boolean);
        for (const [i, line] of lines.entries()) {
          for (const n of needles) if (line.includes(n.needle)) findings.push(`${s.dataDir}/logs/${f}:${i + 1}: ${n.what}`);
          try { events.push(JSON.parse(line)); } catch { /* a torn line is no event */ }
        }
      }
    }
    assert.deepEqual(findings, []);
    // the audit trail is there (so the check above had something to look at)
    const auth = events.filter((e) => e.type === 'auth');
    for (const [action, user] of [['login.failure', 'locky'], ['lockout', 'locky'], ['login.success', 'alice'], ['denied', 'puller'], ['user.remove', 'carol'], ['user.rule', 'ci']]) {
      assert.ok(auth.some((e) => e.action === action && e.user === user), `an auth event ${action} for ${user} is logged`);
    }
  }));
});
