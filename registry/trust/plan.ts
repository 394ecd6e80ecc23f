// What making clients trust the Lanyard CA means on one machine, as data: a plan of targets
// (the OS store, Docker, podman, containerd, NSS profiles, the macOS keychain, the Windows
// Root store), each a list of steps (make a directory, copy a file, write a file, run a
// command). Building a plan has no side effects; run.ts executes it. The plan renders as a
// POSIX sh script (Linux/macOS: one elevated run), as a cmd script (Windows) and as text
// for the user to read before anything happens.
//
// The CA is never read by root from where it lives: run.ts first copies it (as the user)
// into a private temp dir (plan.stage), because an AppImage mount or a network home may be
// unreadable by root. Steps refer to that staged copy through CA_TOKEN.
import path from 'node:path';

/** Stands for the staged copy of the CA in step arguments. */
export const CA_TOKEN = '{ca}';

export type Platform = 'linux' | 'darwin' | 'win32';
export type DistroFamily = 'debian' | 'rhel' | 'arch' | 'suse';

/** /etc/os-release ID and ID_LIKE. */
export interface Distro {
  id: string;
  idLike?: readonly string[];
}

export interface TrustInputs {
  platform: Platform;
  /** Linux only: from /etc/os-release */
  distro?: Distro | null;
  /** the CA certificate to install (PEM) */
  caPem: string;
  /** unique per CA, e.g. lanyard-<fingerprint prefix>: file names and NSS nickname */
  caName: string;
  /** CA serial number, hex (Windows: certutil -delstore Root <serial>) */
  caSerial?: string;
  /** CA SHA-1 fingerprint, hex (macOS: security delete-certificate -Z) */
  caSha1?: string;
  /** registry addresses clients use, HOST:PORT (hostname:port, hostname.local:port, IP:port) */
  addresses: readonly string[];
  /** containerd's registry config_path when set (may hold several dirs separated by ':') */
  containerdConfigPath?: string | null;
  /** NSS databases (~/.pki/nssdb, Firefox profiles) */
  nssProfiles?: readonly string[];
  /** whether NSS certutil is on PATH */
  certutil?: boolean;
  /** prefix for every system path (tests install into a fake root) */
  root?: string;
  /** private temp dir the CA is staged into (run.ts makes one with mkdtemp) */
  stageDir?: string;
}

export type TargetKind = 'os-store' | 'docker' | 'podman' | 'containerd' | 'nss' | 'keychain' | 'windows-root' | 'cleanup';

export interface UndoCommand {
  argv: string[];
  description: string;
}

/** Links an uninstall step to the installed.json entry it undoes. */
export interface RecordRef {
  target?: string;
  file?: string;
  undo?: string;
  dir?: string;
}

interface StepBase {
  /** 1-based, unique in the plan; the script reports results by it */
  id: number;
  description: string;
  record?: RecordRef;
}

/** Make each missing directory of `dirs` (outermost first; the last one is the one wanted). */
export interface MkdirStep extends StepBase {
  kind: 'mkdir';
  path: string;
  dirs: string[];
  mode: string;
}
/** Copy `src` (CA_TOKEN: the staged CA) to `dest`; an existing different file is moved aside to dest.lanyard-backup. */
export interface CopyStep extends StepBase {
  kind: 'copy';
  src: string;
  dest: string;
  mode: string;
}
/** Write `content` to `dest` (same rules as copy). */
export interface WriteStep extends StepBase {
  kind: 'write';
  dest: string;
  content: string;
  mode: string;
}
export interface RunStep extends StepBase {
  kind: 'run';
  argv: string[];
  /** what undoes this command at uninstall */
  undo?: UndoCommand[];
  /** record the undo when the command failed too (refreshing a trust store is always safe to repeat) */
  undoEvenIfFailed?: boolean;
}
/** Remove `path` if its content is still what we put there (the CA, or `text`). */
export interface RemoveStep extends StepBase {
  kind: 'remove';
  path: string;
  expect: { ca: true } | { text: string };
  /** also remove the folder when the file was the only thing in it */
  dirIfSole?: boolean;
}
/** Move a backup made at install back into place (when nothing is there now). */
export interface RestoreStep extends StepBase {
  kind: 'restore';
  backup: string;
  dest: string;
}
/** Remove a directory if it is empty. */
export interface RmdirStep extends StepBase {
  kind: 'rmdir';
  path: string;
}

export type Step = MkdirStep | CopyStep | WriteStep | RunStep | RemoveStep | RestoreStep | RmdirStep;

export interface Target {
  /** stable: os-store, docker:<addr>, podman:<addr>, containerd:<addr>, nss:<dir>, keychain, windows-root, cleanup */
  id: string;
  kind: TargetKind;
  label: string;
  /** needs administrator rights (false: NSS databases, which belong to the user) */
  elevated: boolean;
  steps: Step[];
}

export interface TrustPlan {
  action: 'install' | 'uninstall';
  platform: Platform;
  caName: string;
  /** copy `src` to `file` inside the private dir `dir` (as the user) before anything runs */
  stage: { src: string; dir: string; file: string };
  targets: Target[];
  notes: string[];
}

/** What an install added, as kept in <data>/trust/installed.json. */
export interface InstallRecord {
  caName: string;
  /** SHA-256 of the CA (hex) */
  fingerprint: string;
  platform: Platform;
  /** a copy of the installed CA kept in the data dir (what uninstall compares files with) */
  caCopy: string;
  installedAt: string;
  updatedAt: string;
  /** directories the install created, in creation order */
  dirs: string[];
  targets: RecordTarget[];
}

export interface RecordTarget {
  id: string;
  kind: TargetKind;
  label: string;
  elevated: boolean;
  files: RecordFile[];
  undo: UndoCommand[];
}

export interface RecordFile {
  path: string;
  /** created: written by us; adopted: the same content was already there */
  how: 'created' | 'adopted';
  expect: { ca: true } | { text: string };
  /** a different file that was there, moved aside (restored at uninstall) */
  backup?: string;
  /** adopted and alone in its directory: the directory may go at uninstall when empty */
  sole?: boolean;
}

// ---------------------------------------------------------------------------------------
// Inputs

const ADDRESS_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

/** HOST:PORT as used in image names (and as a certs.d folder name), or throws. */
export function checkAddress(addr: string): string {
  if (!ADDRESS_RE.test(addr) || Number(addr.slice(addr.lastIndexOf(':') + 1)) > 65535) {
    throw new Error(`invalid registry address "${addr}": use HOST:PORT`);
  }
  return addr;
}

export function checkCaName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new Error(`invalid CA name "${name}"`);
  return name;
}

function checkPath(p: string, what: string): string {
  // the script reports paths on single lines; anything else is quoted
  if (!p || /[\u0000-\u001f\u007f]/.test(p)) throw new Error(`invalid ${what} path ${JSON.stringify(p)}`);
  return p;
}

const FAMILY_OF: Record<string, DistroFamily> = {
  debian: 'debian',
  ubuntu: 'debian',
  alpine: 'debian',
  linuxmint: 'debian',
  raspbian: 'debian',
  pop: 'debian',
  elementary: 'debian',
  kali: 'debian',
  rhel: 'rhel',
  fedora: 'rhel',
  centos: 'rhel',
  rocky: 'rhel',
  almalinux: 'rhel',
  ol: 'rhel',
  amzn: 'rhel',
  arch: 'arch',
  archarm: 'arch',
  manjaro: 'arch',
  endeavouros: 'arch',
  opensuse: 'suse',
  'opensuse-leap': 'suse',
  'opensuse-tumbleweed': 'suse',
  sles: 'suse',
  sled: 'suse',
  suse: 'suse',
};

/** The os-release ID/ID_LIKE words of each family (for scripts that detect it themselves). */
export function distroWords(family: DistroFamily): string[] {
  return Object.keys(FAMILY_OF).filter((w) => FAMILY_OF[w] === family);
}

/** The trust-store family of a distro: its ID first, then each ID_LIKE word. */
export function distroFamily(d: Distro | null | undefined): DistroFamily | null {
  if (!d) return null;
  for (const w of [d.id, ...(d.idLike ?? [])]) {
    const f = FAMILY_OF[w.toLowerCase()];
    if (f) return f;
  }
  return null;
}

export interface OsStoreSpec {
  family: DistroFamily;
  label: string;
  /** anchors directory */
  dir: string;
  ext: '.crt' | '.pem';
  refresh: string[];
  refreshAfterRemove: string[];
  /** the bundle clients (Go, curl, OpenSSL) read */
  bundle: string;
}

const OS_STORES: Record<DistroFamily, OsStoreSpec> = {
  debian: {
    family: 'debian',
    label: 'System trust store (Debian/Ubuntu/Alpine)',
    dir: '/usr/local/share/ca-certificates',
    ext: '.crt',
    refresh: ['update-ca-certificates'],
    refreshAfterRemove: ['update-ca-certificates', '--fresh'],
    bundle: '/etc/ssl/certs/ca-certificates.crt',
  },
  rhel: {
    family: 'rhel',
    label: 'System trust store (RHEL/Fedora/CentOS)',
    dir: '/etc/pki/ca-trust/source/anchors',
    ext: '.pem',
    refresh: ['update-ca-trust', 'extract'],
    refreshAfterRemove: ['update-ca-trust', 'extract'],
    bundle: '/etc/pki/tls/certs/ca-bundle.crt',
  },
  arch: {
    family: 'arch',
    label: 'System trust store (Arch)',
    dir: '/etc/ca-certificates/trust-source/anchors',
    ext: '.crt',
    refresh: ['trust', 'extract-compat'],
    refreshAfterRemove: ['trust', 'extract-compat'],
    bundle: '/etc/ssl/certs/ca-certificates.crt',
  },
  suse: {
    family: 'suse',
    label: 'System trust store (openSUSE/SLES)',
    dir: '/usr/share/pki/trust/anchors',
    ext: '.pem',
    refresh: ['update-ca-certificates'],
    refreshAfterRemove: ['update-ca-certificates'],
    bundle: '/etc/ssl/ca-bundle.pem',
  },
};

/**
 * `update-ca-certificates --fresh` rebuilds the bundle but does not tell its hooks (e.g.
 * ca-certificates-java's keystore) that a local CA went away; tell them the way the tool
 * itself does: a "-<pem>" line on each hook's standard input.
 */
export function debianHooksRemoval(name: string): { argv: string[]; description: string } {
  return {
    argv: ['sh', '-c', 'for h in /etc/ca-certificates/update.d/*; do [ -x "$h" ] || continue; printf "%s\\n" "-/etc/ssl/certs/$1.pem" | "$h" >/dev/null; done; true', 'lanyard-ca-hooks', name],
    description: "Tell the CA hooks (e.g. Java's keystore) that the Lanyard CA is gone",
  };
}

export function osStoreSpec(family: DistroFamily): OsStoreSpec {
  return OS_STORES[family];
}

export const MACOS_SYSTEM_KEYCHAIN = '/Library/Keychains/System.keychain';
export const DOCKER_CERTS_D = '/etc/docker/certs.d';
export const CONTAINERS_CERTS_D = '/etc/containers/certs.d';
export const DEFAULT_STAGE_DIR = '/tmp/lanyard-trust-XXXXXX';

/** The first directory of containerd's config_path (it may list several, ':'-separated). */
export function containerdHostsDir(configPath: string | null | undefined): string | null {
  const first = (configPath ?? '').split(':').map((s) => s.trim()).find((s) => s.length > 0);
  return first && path.posix.isAbsolute(first) ? path.posix.normalize(first) : null;
}

/** hosts.toml for one registry address, with the CA at `caPath`. */
export function containerdHostsToml(addr: string, caPath: string): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return (
    `# Written by Lanyard: trust the Lanyard CA for ${addr}\n` +
    `server = "https://${addr}"\n` +
    `\n` +
    `[host."https://${addr}"]\n` +
    `  capabilities = ["pull", "resolve", "push"]\n` +
    `  ca = "${esc(caPath)}"\n`
  );
}

// ---------------------------------------------------------------------------------------
// Building plans

class PlanBuilder {
  private next = 1;
  readonly targets: Target[] = [];
  readonly notes: string[] = [];
  private readonly root: string;

  constructor(root: string | undefined) {
    this.root = root ? path.posix.resolve(root) : '/';
  }

  /** A system path under the root prefix. */
  sys(p: string): string {
    return this.root === '/' ? path.posix.normalize(p) : path.posix.join(this.root, p);
  }

  /** Every directory from just below the root down to sys(p), outermost first. */
  chain(p: string): string[] {
    const parts = path.posix.normalize(p).split('/').filter(Boolean);
    const out: string[] = [];
    let cur = '/';
    for (const part of parts) {
      cur = path.posix.join(cur, part);
      out.push(this.sys(cur));
    }
    return out;
  }

  target(id: string, kind: TargetKind, label: string, elevated = true): Target {
    const t: Target = { id, kind, label, elevated, steps: [] };
    this.targets.push(t);
    return t;
  }

  mkdir(t: Target, unprefixed: string, record?: RecordRef): void {
    const dirs = this.chain(unprefixed);
    const p = dirs[dirs.length - 1];
    this.add(t, { kind: 'mkdir', path: p, dirs, mode: '0755', description: `Create the directory ${p} (and any missing parent)`, record });
  }

  copyCa(t: Target, dest: string): void {
    this.add(t, { kind: 'copy', src: CA_TOKEN, dest, mode: '0644', description: `Copy the Lanyard CA to ${dest} (mode 0644)` });
  }

  write(t: Target, dest: string, content: string, what: string): void {
    this.add(t, { kind: 'write', dest, content, mode: '0644', description: `Write ${what} ${dest} (mode 0644)` });
  }

  run(t: Target, argv: string[], why: string, undo?: UndoCommand[], undoEvenIfFailed?: boolean): void {
    const step: Omit<RunStep, 'id'> = { kind: 'run', argv, description: `${why}: ${displayArgv(argv)}` };
    if (undo && undo.length > 0) step.undo = undo;
    if (undoEvenIfFailed) step.undoEvenIfFailed = true;
    this.add(t, step);
  }

  add(t: Target, step: DistributiveOmit<Step, 'id'>): void {
    const s = { ...step, id: this.next++ } as Step;
    if (s.record === undefined) delete s.record;
    t.steps.push(s);
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

function stageOf(inputs: TrustInputs): TrustPlan['stage'] {
  const win = inputs.platform === 'win32';
  const dir = inputs.stageDir ?? (win ? 'C:\\Windows\\Temp\\lanyard-trust' : DEFAULT_STAGE_DIR);
  checkPath(dir, 'stage');
  return { src: checkPath(inputs.caPem, 'CA'), dir, file: win ? path.win32.join(dir, 'ca.crt') : path.posix.join(dir, 'ca.crt') };
}

function nssArgs(profile: string, rest: string[]): string[] {
  return ['certutil', ...rest.slice(0, 1), '-d', `sql:${profile}`, ...rest.slice(1)];
}

/** The install plan: what `lanyard trust install` does on a machine described by `inputs`. */
export function buildInstallPlan(inputs: TrustInputs): TrustPlan {
  const name = checkCaName(inputs.caName);
  const addresses = [...new Set(inputs.addresses.map(checkAddress))];
  const b = new PlanBuilder(inputs.root);
  const stage = stageOf(inputs);

  if (inputs.platform === 'linux') {
    const family = distroFamily(inputs.distro);
    if (family) {
      const spec = OS_STORES[family];
      const t = b.target('os-store', 'os-store', spec.label);
      b.mkdir(t, spec.dir);
      b.copyCa(t, b.sys(path.posix.join(spec.dir, name + spec.ext)));
      const undo = [{ argv: spec.refreshAfterRemove, description: 'Rebuild the system CA bundle without the Lanyard CA' }];
      if (family === 'debian') undo.push(debianHooksRemoval(name));
      b.run(t, spec.refresh, 'Rebuild the system CA bundle', undo, true);
    } else {
      const id = inputs.distro?.id ?? 'unknown';
      b.notes.push(`Unknown Linux distribution (ID=${id}): the system trust store is left alone. Add ${inputs.caPem} to it by hand if programs other than the container tools must trust the registry.`);
    }
    for (const addr of addresses) {
      const t = b.target(`docker:${addr}`, 'docker', `Docker: ${addr}`);
      b.mkdir(t, path.posix.join(DOCKER_CERTS_D, addr));
      b.copyCa(t, b.sys(path.posix.join(DOCKER_CERTS_D, addr, 'ca.crt')));
    }
    for (const addr of addresses) {
      const t = b.target(`podman:${addr}`, 'podman', `podman/buildah/skopeo: ${addr}`);
      b.mkdir(t, path.posix.join(CONTAINERS_CERTS_D, addr));
      b.copyCa(t, b.sys(path.posix.join(CONTAINERS_CERTS_D, addr, 'ca.crt')));
    }
    const hostsDir = containerdHostsDir(inputs.containerdConfigPath);
    if (hostsDir) {
      for (const addr of addresses) {
        const t = b.target(`containerd:${addr}`, 'containerd', `containerd: ${addr}`);
        const dir = path.posix.join(hostsDir, addr);
        const ca = b.sys(path.posix.join(dir, 'ca.crt'));
        b.mkdir(t, dir);
        b.copyCa(t, ca);
        b.write(t, b.sys(path.posix.join(dir, 'hosts.toml')), containerdHostsToml(addr, ca), 'containerd host configuration');
      }
    } else {
      b.notes.push('containerd: config_path is not set in /etc/containerd/config.toml, so containerd (CRI) ignores certs.d folders; it is skipped. (ctr users can pass --hosts-dir /etc/docker/certs.d.)');
    }
  } else if (inputs.platform === 'darwin') {
    const t = b.target('keychain', 'keychain', 'macOS System keychain');
    const undo: UndoCommand[] = [{ argv: ['security', 'remove-trusted-cert', '-d', CA_TOKEN], description: 'Remove the trust setting of the Lanyard CA' }];
    if (inputs.caSha1) {
      undo.push({
        argv: ['security', 'delete-certificate', '-Z', inputs.caSha1.replace(/:/g, '').toUpperCase(), MACOS_SYSTEM_KEYCHAIN],
        description: 'Delete the Lanyard CA from the System keychain',
      });
    }
    b.run(t, ['security', 'add-trusted-cert', '-d', '-r', 'trustRoot', '-k', MACOS_SYSTEM_KEYCHAIN, CA_TOKEN], 'Add the CA to the System keychain as a trusted root', undo);
    b.notes.push('Docker Desktop and podman machine on macOS use the System keychain: no certs.d folders are needed.');
  } else {
    const t = b.target('windows-root', 'windows-root', 'Windows Root store (local machine)');
    const undo: UndoCommand[] = inputs.caSerial
      ? [{ argv: ['certutil', '-delstore', 'Root', normalizeSerial(inputs.caSerial)], description: 'Remove the Lanyard CA from the Root store' }]
      : [];
    if (!inputs.caSerial) b.notes.push('The CA serial number is unknown: uninstall will not be able to remove it from the Root store.');
    b.run(t, ['certutil', '-addstore', '-f', 'Root', CA_TOKEN], 'Add the CA to the machine Root store', undo);
    b.notes.push('Docker Desktop on Windows uses the Windows Root store: no certs.d folders are needed.');
  }

  const profiles = inputs.platform === 'win32' ? [] : [...new Set(inputs.nssProfiles ?? [])];
  if (profiles.length > 0 && inputs.certutil) {
    for (const p of profiles) {
      checkPath(p, 'NSS profile');
      const t = b.target(`nss:${p}`, 'nss', `NSS database ${p}`, false);
      b.run(t, nssArgs(p, ['-A', '-t', 'C,,', '-n', name, '-i', CA_TOKEN]), 'Add the CA to the NSS database (Firefox/Chromium)', [
        { argv: nssArgs(p, ['-D', '-n', name]), description: 'Remove the CA from the NSS database' },
      ]);
    }
  } else if (profiles.length > 0) {
    b.notes.push(`Found ${profiles.length} Firefox/Chromium (NSS) profile(s), but certutil is not installed (Debian/Ubuntu: apt install libnss3-tools; Fedora: dnf install nss-tools; macOS: brew install nss), so browsers are skipped.`);
  }

  return { action: 'install', platform: inputs.platform, caName: name, stage, targets: b.targets, notes: b.notes };
}

/**
 * The uninstall plan for `inputs` without an install record: remove each file only if it is
 * still the CA (or the hosts.toml Lanyard writes), undo the commands, and remove a
 * per-address folder only when our file was the only thing in it. run.ts prefers
 * uninstallPlanFromRecord, which removes exactly what the install added.
 */
export function buildUninstallPlan(inputs: TrustInputs): TrustPlan {
  const install = buildInstallPlan(inputs);
  const b = new PlanBuilder(inputs.root);
  for (const it of install.targets) {
    const t = b.target(it.id, it.kind, it.label, it.elevated);
    // a certs.d/<addr> folder goes only when our file was the only thing left in it
    const perAddress = it.kind === 'docker' || it.kind === 'podman' || it.kind === 'containerd';
    const also = perAddress ? ' (and its folder, if nothing else is in it)' : '';
    for (const s of [...it.steps].reverse()) {
      if (s.kind !== 'copy' && s.kind !== 'write') continue;
      if (s.kind === 'copy') b.add(t, { kind: 'remove', path: s.dest, expect: { ca: true }, dirIfSole: perAddress, description: `Remove ${s.dest} if it is the Lanyard CA${also}` });
      else b.add(t, { kind: 'remove', path: s.dest, expect: { text: s.content }, dirIfSole: perAddress, description: `Remove ${s.dest} if Lanyard wrote it${also}` });
      const backup = `${s.dest}.lanyard-backup`;
      b.add(t, { kind: 'restore', backup, dest: s.dest, description: `Put back ${s.dest} from ${backup}, if install moved one aside` });
    }
    for (const s of it.steps) {
      if (s.kind === 'run') for (const u of s.undo ?? []) b.run(t, u.argv, u.description);
    }
    if (t.steps.length === 0) b.targets.pop();
  }
  const notes = install.notes.filter((n) => !n.startsWith('Docker Desktop') && !n.startsWith('containerd:'));
  return { action: 'uninstall', platform: inputs.platform, caName: install.caName, stage: install.stage, targets: b.targets, notes };
}

function addCleanup(b: PlanBuilder, dirs: string[]): void {
  const unique = [...new Set(dirs)].sort((x, y) => depth(y) - depth(x) || y.localeCompare(x));
  if (unique.length === 0) return;
  const t = b.target('cleanup', 'cleanup', 'Folders (removed only when empty)');
  for (const d of unique) b.add(t, { kind: 'rmdir', path: d, description: `Remove the folder ${d} if it is empty`, record: { dir: d } });
}

function depth(p: string): number {
  return p.split(/[\\/]/).filter(Boolean).length;
}

/** The uninstall plan that undoes exactly what `record` says the install added. */
export function uninstallPlanFromRecord(record: InstallRecord, opts: { stageDir?: string } = {}): TrustPlan {
  const b = new PlanBuilder(undefined);
  const stage = stageOf({ platform: record.platform, caPem: record.caCopy, caName: record.caName, addresses: [], stageDir: opts.stageDir });
  const dirs = [...record.dirs];
  for (const rt of [...record.targets].reverse()) {
    const t = b.target(rt.id, rt.kind, rt.label, rt.elevated);
    for (const f of [...rt.files].reverse()) {
      const what = 'ca' in f.expect ? 'is the Lanyard CA' : 'is unchanged since Lanyard wrote it';
      b.add(t, { kind: 'remove', path: f.path, expect: f.expect, description: `Remove ${f.path} if it ${what}`, record: { target: rt.id, file: f.path } });
      if (f.backup) b.add(t, { kind: 'restore', backup: f.backup, dest: f.path, description: `Put back ${f.path} from ${f.backup}`, record: { target: rt.id, file: f.path } });
      if (f.sole) dirs.push(path.posix.dirname(f.path));
    }
    for (const u of rt.undo) {
      b.add(t, { kind: 'run', argv: u.argv, description: `${u.description}: ${displayArgv(u.argv)}`, record: { target: rt.id, undo: undoKey(u) } });
    }
    if (t.steps.length === 0) b.targets.pop();
  }
  addCleanup(b, dirs);
  return { action: 'uninstall', platform: record.platform, caName: record.caName, stage, targets: b.targets, notes: [] };
}

export function undoKey(u: UndoCommand): string {
  return JSON.stringify(u.argv);
}

function normalizeSerial(s: string): string {
  return s.replace(/[:\s]/g, '').toLowerCase();
}

// ---------------------------------------------------------------------------------------
// Rendering

/** Single-quote for POSIX sh. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function displayArgv(argv: readonly string[]): string {
  return argv.map((a) => (a === CA_TOKEN ? '<CA>' : shQuote(a))).join(' ');
}

const SH_HELPERS = String.raw`
mark() { printf '@@lanyard %s\n' "$*"; }
same_file() {
  if command -v cmp >/dev/null 2>&1; then cmp -s "$1" "$2"; else [ "$(cat "$1")" = "$(cat "$2")" ]; fi
}
# ensure_dir MODE DIR...: create each missing DIR, outermost first, reporting what was created
ensure_dir() {
  _mode=$1; shift
  for _d in "$@"; do
    if [ ! -d "$_d" ]; then
      mkdir -m "$_mode" "$_d" || return 1
      mark "$cur created-dir $_d"
    fi
  done
}
# put_file SRC DEST MODE: install SRC as DEST; the same content already there is adopted,
# a different file is moved aside to DEST.lanyard-backup first
put_file() {
  if [ -e "$2" ] || [ -L "$2" ]; then
    if [ -f "$2" ] && same_file "$1" "$2"; then
      if [ "$(ls -A "$(dirname "$2")")" = "$(basename "$2")" ]; then mark "$cur adopted-sole $2"; else mark "$cur adopted $2"; fi
      return 0
    fi
    if [ -e "$2.lanyard-backup" ] || [ -L "$2.lanyard-backup" ]; then
      echo "$2 holds something else and $2.lanyard-backup exists already: not replacing it" >&2
      return 1
    fi
    mv "$2" "$2.lanyard-backup" || return 1
    mark "$cur moved-aside $2"
  fi
  if cp "$1" "$2.lanyard-new" && chmod "$3" "$2.lanyard-new" && mv -f "$2.lanyard-new" "$2"; then
    mark "$cur created-file $2"
    return 0
  fi
  rm -f "$2.lanyard-new"
  if [ -e "$2.lanyard-backup" ] && [ ! -e "$2" ]; then mv "$2.lanyard-backup" "$2" && mark "$cur restored $2"; fi
  return 1
}
# write_file DEST MODE TEXT
write_file() {
  _src=$(mktemp) || return 1
  if printf '%s' "$3" > "$_src" && put_file "$_src" "$1" "$2"; then rm -f "$_src"; return 0; fi
  rm -f "$_src"
  return 1
}
# remove_file PATH EXPECTED: remove PATH if its content is EXPECTED's
remove_file() {
  if [ ! -e "$1" ] && [ ! -L "$1" ]; then mark "$cur absent $1"; return 0; fi
  if [ -f "$1" ] && [ ! -L "$1" ] && same_file "$2" "$1"; then
    rm -f "$1" || return 1
    mark "$cur removed $1"
  else
    echo "$1 has changed since Lanyard put it there: kept" >&2
    mark "$cur kept-changed $1"
  fi
}
# remove_text PATH TEXT
remove_text() {
  _src=$(mktemp) || return 1
  if printf '%s' "$2" > "$_src" && remove_file "$1" "$_src"; then rm -f "$_src"; return 0; fi
  rm -f "$_src"
  return 1
}
# if_sole_dir remove_file|remove_text PATH ARG: that, then remove PATH's folder if PATH was all it held
if_sole_dir() {
  _dir=$(dirname "$2")
  _sole=no
  if [ "$(ls -A "$_dir" 2>/dev/null)" = "$(basename "$2")" ]; then _sole=yes; fi
  "$@" || return 1
  if [ "$_sole" = yes ] && [ ! -e "$2" ] && [ ! -L "$2" ]; then
    if rmdir "$_dir" 2>/dev/null; then mark "$cur removed-dir $_dir"; fi
  fi
  return 0
}
# restore_file BACKUP DEST
restore_file() {
  if [ ! -e "$1" ] && [ ! -L "$1" ]; then mark "$cur absent $1"; return 0; fi
  if [ -e "$2" ] || [ -L "$2" ]; then mark "$cur kept-backup $1"; return 0; fi
  mv "$1" "$2" || return 1
  mark "$cur restored $2"
}
# remove_dir DIR: remove DIR when it is empty
remove_dir() {
  if [ ! -d "$1" ]; then mark "$cur absent $1"; return 0; fi
  if rmdir "$1" 2>/dev/null; then mark "$cur removed-dir $1"; else mark "$cur kept-dir $1"; fi
}
# step ID TARGET COMMAND...: run one step unless an earlier step of TARGET failed
step() {
  cur=$1; _t=$2; shift 2
  case "$skip" in *" $_t "*) mark "$cur skipped"; return 0 ;; esac
  if "$@" 2>"$errf"; then
    cat "$errf" >&2
    mark "$cur ok"
  else
    _rc=$?
    cat "$errf" >&2
    mark "$cur failed $_rc $(tr '\n' ' ' < "$errf" | cut -c1-400)"
    skip="$skip$_t "
    failed=1
  fi
}
`;

export type ScriptPart = 'elevated' | 'user';

function partTargets(plan: TrustPlan, part: ScriptPart): Target[] {
  return plan.targets.filter((t) => t.elevated === (part === 'elevated') && t.steps.length > 0);
}

function shStep(s: Step): string {
  const a = (x: string) => (x === CA_TOKEN ? '"$CA"' : shQuote(x));
  switch (s.kind) {
    case 'mkdir':
      return `ensure_dir ${s.mode} ${s.dirs.map(a).join(' ')}`;
    case 'copy':
      return `put_file ${a(s.src)} ${a(s.dest)} ${s.mode}`;
    case 'write':
      return `write_file ${a(s.dest)} ${s.mode} ${shQuote(s.content)}`;
    case 'run':
      return s.argv.map(a).join(' ');
    case 'remove': {
      const cmd = 'ca' in s.expect ? `remove_file ${a(s.path)} "$CA"` : `remove_text ${a(s.path)} ${shQuote(s.expect.text)}`;
      return s.dirIfSole ? `if_sole_dir ${cmd}` : cmd;
    }
    case 'restore':
      return `restore_file ${a(s.backup)} ${a(s.dest)}`;
    case 'rmdir':
      return `remove_dir ${a(s.path)}`;
  }
}

/**
 * The plan's steps for one part (elevated: everything needing root, run once elevated;
 * user: the NSS databases, run as the user) as a POSIX sh script, or null when that part
 * has no steps. The script prints `@@lanyard <step> <event> [path]` lines that run.ts reads;
 * a failed step skips the rest of its target, other targets go on; the exit code is 1 when
 * any step failed.
 */
export function renderShellScript(plan: TrustPlan, part: ScriptPart = 'elevated'): string | null {
  if (plan.platform === 'win32') throw new Error('Windows plans render as cmd scripts (renderCmdScript)');
  const targets = partTargets(plan, part);
  if (targets.length === 0) return null;
  const lines: string[] = [
    '#!/bin/sh',
    `# Lanyard: ${plan.action} the Lanyard CA "${plan.caName}" (${part === 'elevated' ? 'run as root' : 'run as the user'}).`,
    '# Generated by `lanyard trust`; every step is listed below.',
    'set -e',
    'umask 022',
    'PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
    'export PATH',
    `CA=${shQuote(plan.stage.file)}`,
    'if [ ! -r "$CA" ]; then echo "lanyard: the staged CA $CA is missing or unreadable" >&2; exit 1; fi',
    'failed=0',
    "skip=' '",
    'cur=0',
    'errf=$(mktemp)',
    `trap 'rm -f "$errf"' EXIT`,
    SH_HELPERS.trim(),
    '',
  ];
  targets.forEach((t, i) => {
    lines.push(`# ${t.label}`);
    for (const s of t.steps) lines.push(`step ${s.id} t${i + 1} ${shStep(s)}`);
    lines.push('');
  });
  lines.push('exit "$failed"', '');
  return lines.join('\n');
}

function cmdQuote(s: string): string {
  if (s.includes('"')) throw new Error(`cannot quote ${JSON.stringify(s)} for cmd`);
  return /^[A-Za-z0-9_\-.:\\/,=]+$/.test(s) ? s : `"${s.replace(/%/g, '%%')}"`;
}

/** The plan's elevated steps as a Windows cmd script (same @@lanyard reporting). */
export function renderCmdScript(plan: TrustPlan): string | null {
  if (plan.platform !== 'win32') throw new Error('only Windows plans render as cmd scripts');
  const targets = partTargets(plan, 'elevated');
  if (targets.length === 0) return null;
  const lines = ['@echo off', `rem Lanyard: ${plan.action} the Lanyard CA "${plan.caName}" (run elevated).`, 'setlocal', 'set failed=0'];
  for (const t of targets) {
    lines.push(`rem ${t.label}`);
    for (const s of t.steps) {
      if (s.kind !== 'run') throw new Error(`step kind ${s.kind} is not supported on Windows`);
      lines.push(s.argv.map((x) => (x === CA_TOKEN ? cmdQuote(plan.stage.file) : cmdQuote(x))).join(' '));
      lines.push(`if errorlevel 1 (echo @@lanyard ${s.id} failed 1& set failed=1) else (echo @@lanyard ${s.id} ok)`);
    }
  }
  lines.push('exit /b %failed%', '');
  return lines.join('\r\n');
}

/** The plan as text for the user to read before anything runs. */
export function renderPlanText(plan: TrustPlan): string {
  const out: string[] = [];
  const verb = plan.action === 'install' ? 'Install' : 'Uninstall';
  out.push(`${verb} the Lanyard CA "${plan.caName}" (${plan.platform})`);
  out.push('');
  const stageNote =
    plan.action === 'install'
      ? `First, as you: copy ${plan.stage.src} to ${plan.stage.file} (a private temp folder root can read).`
      : `First, as you: copy the CA ${plan.stage.src} to ${plan.stage.file} (files are removed only if they still match it).`;
  out.push(stageNote);
  const sections: [string, Target[]][] = [
    ['With administrator rights (one prompt):', plan.targets.filter((t) => t.elevated)],
    ['As you (no administrator rights):', plan.targets.filter((t) => !t.elevated)],
  ];
  for (const [title, targets] of sections) {
    if (targets.length === 0) continue;
    out.push('', title);
    for (const t of targets) {
      out.push(`  ${t.label}`);
      for (const s of t.steps) out.push(`    ${s.id}. ${s.description.split('<CA>').join(plan.stage.file)}`);
    }
  }
  if (plan.targets.length === 0) out.push('', 'Nothing to do.');
  if (plan.notes.length > 0) {
    out.push('', 'Notes:');
    for (const n of plan.notes) out.push(`  - ${n}`);
  }
  return out.join('\n') + '\n';
}
