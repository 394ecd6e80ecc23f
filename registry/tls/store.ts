// TLS material for a data directory. Managed mode keeps a local CA and a server
// certificate in <data>/tls/:
//   ca.pem          the CA certificate (what clients trust; shown by fingerprint)
//   ca-key.pem      the CA private key (0600; never returned by any API, never copied)
//   server.pem      the server certificate chain: leaf, then the CA
//   server-key.pem  the server private key (0600)
// The CA is created on first start and reused; the leaf is (re)issued when it is missing,
// does not match its key or the CA, no longer covers the current addresses, or expires
// within 30 days. A watcher polls the addresses and reissues the leaf from the same CA,
// so the server can swap it in with server.setSecureContext() without dropping connections.
// Provided mode (REGISTRY_HTTP_TLS_CERTIFICATE / REGISTRY_HTTP_TLS_KEY) loads the given
// files as they are and never generates or writes anything.
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { addressKey, discoverAddresses, normalizeAddressSet, normalizeDnsName, type AddressSet, type DiscoverOptions } from './addresses';
import {
  CA_KEY_BITS,
  certificateSans,
  certificateValidity,
  createCA,
  fingerprint256,
  generateRsaKeyPemAsync,
  isIssuedBy,
  issueLeaf,
  keyMatchesCertificate,
  LEAF_KEY_BITS,
  splitPemCertificates,
  type CertKeyPem,
} from './certs';

export const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
const IS_POSIX = process.platform !== 'win32';

export interface TlsFiles {
  dir: string;
  ca: string;
  caKey: string;
  cert: string;
  key: string;
}

export function tlsFiles(dataDir: string): TlsFiles {
  const dir = path.join(dataDir, 'tls');
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server-key.pem'),
  };
}

export interface ProvidedFiles {
  certFile: string;
  keyFile: string;
}

/** Why the leaf was (re)issued; null when the one on disk was kept. */
export type ReissueReason = 'missing' | 'key-mismatch' | 'other-ca' | 'addresses' | 'expiring' | 'not-yet-valid';

export interface TlsMaterial {
  mode: 'managed' | 'provided';
  /** CA certificate PEM (managed); null when the certificate was provided */
  ca: string | null;
  /** what the server presents: the certificate chain PEM (managed: leaf then CA; provided: the file as is) */
  cert: string;
  /** the server certificate alone (first certificate of `cert`) */
  leaf: string;
  /** the server private key PEM */
  key: string;
  /** SHA-256 of the CA certificate, "AB:CD:…" (null when provided) */
  caFingerprint: string | null;
  /** the same as lower-case hex, for pinning */
  caFingerprintHex: string | null;
  /** SHA-256 of the server certificate, "AB:CD:…" */
  leafFingerprint: string;
  notBefore: Date;
  notAfter: Date;
  /** when the CA expires (null when provided): a new CA means every client must trust it again */
  caNotAfter: Date | null;
  /** the SANs of the server certificate */
  sans: AddressSet;
  /** true when this call issued a new server certificate */
  reissued: boolean;
  reason: ReissueReason | null;
  /** true when this call created a new CA (clients must trust it again) */
  caCreated: boolean;
  files: { cert: string; key: string; ca: string | null };
}

export interface TlsStoreOptions {
  /** bring-your-own certificate and key: load these, never generate anything */
  provided?: ProvidedFiles | null;
  /** how to discover the addresses (interface source, host name, extra names) */
  discover?: DiscoverOptions;
  /** clock, for tests */
  now?: () => Date;
  /** reissue when the leaf expires within this many days (default 30) */
  renewBeforeDays?: number;
  /** CN of the leaf; default: the host name */
  commonName?: string;
}

export interface TlsWatcher {
  /** poll once now; resolves with the new material when it changed, else null */
  check(): Promise<TlsMaterial | null>;
  stop(): void;
}

/** REGISTRY_HTTP_TLS_CERTIFICATE + REGISTRY_HTTP_TLS_KEY (both or neither), resolved to absolute paths. */
export function providedFromEnv(env: NodeJS.ProcessEnv = process.env): ProvidedFiles | null {
  const certFile = env.REGISTRY_HTTP_TLS_CERTIFICATE?.trim();
  const keyFile = env.REGISTRY_HTTP_TLS_KEY?.trim();
  if (!certFile && !keyFile) return null;
  if (!certFile || !keyFile) {
    throw new Error('REGISTRY_HTTP_TLS_CERTIFICATE and REGISTRY_HTTP_TLS_KEY must be set together');
  }
  return { certFile: path.resolve(certFile), keyFile: path.resolve(keyFile) };
}

// ---------------------------------------------------------------------------------------
// files

async function readOrNull(p: string): Promise<string | null> {
  try {
    return await fsp.readFile(p, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

/** Write `data` to `target` with exactly `mode`: a temp file beside it (fsync'd), then rename. */
async function writeAtomic(target: string, data: string, mode: number): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    try {
      if (IS_POSIX) await fh.chmod(mode); // exact mode regardless of umask
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

async function ensurePrivateDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  if (IS_POSIX) await fsp.chmod(dir, 0o700);
}

/** Tighten a key file that was restored or copied with looser permissions. */
async function keepPrivate(file: string): Promise<void> {
  if (!IS_POSIX) return;
  const st = await fsp.stat(file);
  if ((st.mode & 0o077) !== 0) await fsp.chmod(file, 0o600);
}

// ---------------------------------------------------------------------------------------
// decisions

/** Why a leaf on disk must be replaced, or null when it can stay. */
export function reissueReason(
  leaf: CertKeyPem | null,
  caPem: string,
  addresses: AddressSet,
  now: Date,
  renewBeforeDays = RENEW_BEFORE_DAYS,
): ReissueReason | null {
  if (!leaf || splitPemCertificates(leaf.certPem).length === 0) return 'missing';
  if (!keyMatchesCertificate(leaf.certPem, leaf.keyPem)) return 'key-mismatch';
  if (!isIssuedBy(leaf.certPem, caPem)) return 'other-ca';
  if (addressKey(certificateSans(leaf.certPem)) !== addressKey(addresses)) return 'addresses';
  const { notBefore, notAfter } = certificateValidity(leaf.certPem);
  if (notBefore.getTime() > now.getTime()) return 'not-yet-valid';
  if (notAfter.getTime() - now.getTime() <= renewBeforeDays * DAY_MS) {
    // only when the CA lets a new leaf outlive this one (a CA near its own end caps every leaf)
    if (certificateValidity(caPem).notAfter.getTime() > notAfter.getTime() + DAY_MS) return 'expiring';
  }
  return null;
}

function material(
  mode: TlsMaterial['mode'],
  ca: string | null,
  chain: string,
  key: string,
  files: TlsMaterial['files'],
  extra: { reissued: boolean; reason: ReissueReason | null; caCreated: boolean },
): TlsMaterial {
  const leaf = splitPemCertificates(chain)[0]!;
  const { notBefore, notAfter } = certificateValidity(leaf);
  const caFp = ca ? fingerprint256(ca) : null;
  return {
    mode,
    ca,
    cert: chain,
    leaf,
    key,
    caFingerprint: caFp?.colon ?? null,
    caFingerprintHex: caFp?.hex ?? null,
    leafFingerprint: fingerprint256(leaf).colon,
    notBefore,
    notAfter,
    caNotAfter: ca ? certificateValidity(ca).notAfter : null,
    sans: certificateSans(leaf),
    files,
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------
// provided mode

/** Load a bring-your-own certificate (chain) and key exactly as they are; nothing is written. */
export async function loadProvided(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([fsp.readFile(certFile, 'utf8'), fsp.readFile(keyFile, 'utf8')]);
  if (splitPemCertificates(cert).length === 0) throw new Error(`${certFile}: no PEM certificate found`);
  if (!keyMatchesCertificate(cert, key)) throw new Error(`${keyFile} is not the private key of the certificate in ${certFile}`);
  return material('provided', null, cert, key, { cert: certFile, key: keyFile, ca: null }, { reissued: false, reason: null, caCreated: false });
}

// ---------------------------------------------------------------------------------------
// the store

export class TlsStore {
  readonly files: TlsFiles;
  private readonly renewBeforeDays: number;
  private readonly now: () => Date;
  /** operations run one at a time (start-up and the watcher may overlap) */
  private queue: Promise<unknown> = Promise.resolve();
  private last: TlsMaterial | null = null;

  constructor(
    readonly dataDir: string,
    private readonly opts: TlsStoreOptions = {},
  ) {
    this.files = tlsFiles(dataDir);
    this.renewBeforeDays = opts.renewBeforeDays ?? RENEW_BEFORE_DAYS;
    this.now = opts.now ?? (() => new Date());
  }

  get mode(): TlsMaterial['mode'] {
    return this.opts.provided ? 'provided' : 'managed';
  }

  /** The names and addresses the leaf must cover right now. */
  addresses(): AddressSet {
    return discoverAddresses(this.opts.discover);
  }

  /** The material last loaded or issued by this store (null before the first load). */
  current(): TlsMaterial | null {
    return this.last;
  }

  /**
   * Load (provided), or create the CA if needed and (re)issue the leaf if needed (managed).
   * `addresses` defaults to this.addresses(); put extra names (bind address, REGISTRY_HTTP_HOST)
   * in options.discover.extra rather than here, so the watcher covers them too.
   */
  loadOrCreate(addresses?: AddressSet): Promise<TlsMaterial> {
    return this.serial(async () => {
      const m = this.opts.provided
        ? await loadProvided(this.opts.provided.certFile, this.opts.provided.keyFile)
        : await this.ensureManaged(addresses ?? this.addresses());
      this.last = m;
      return m;
    });
  }

  /**
   * Poll every `intervalMs`: in managed mode the address set (and the leaf's expiry), in
   * provided mode the two files. On a change the new material goes to `onChange`, whose
   * `cert` and `key` fit `server.setSecureContext({ cert, key })`.
   */
  watchAddresses(
    intervalMs: number,
    onChange: (m: TlsMaterial) => void | Promise<void>,
    onError: (e: unknown) => void = () => {},
  ): TlsWatcher {
    let stopped = false;
    let running: Promise<TlsMaterial | null> | null = null;
    let lastKey: string | null = this.last && this.mode === 'managed' ? addressKey(this.last.sans) : null;
    const provided = this.opts.provided ?? null;

    const poll = async (): Promise<TlsMaterial | null> => {
      if (provided) {
        // small files: compare contents (a rotation by certbot & co. replaces both)
        const [cert, key] = await Promise.all([readOrNull(provided.certFile), readOrNull(provided.keyFile)]);
        if (this.last && cert === this.last.cert && key === this.last.key) return null;
        const before = this.last;
        const m = await this.loadOrCreate(); // throws while the pair is half-replaced; retried next tick
        return before && m.cert === before.cert && m.key === before.key ? null : m;
      }
      const addrs = this.addresses();
      const key = addressKey(addrs);
      const expiring = this.last !== null && this.last.notAfter.getTime() - this.now().getTime() <= this.renewBeforeDays * DAY_MS;
      if (key === lastKey && this.last && !expiring) return null;
      const m = await this.loadOrCreate(addrs);
      lastKey = key;
      return m.reissued ? m : null;
    };

    const check = (): Promise<TlsMaterial | null> => {
      if (stopped) return Promise.resolve(null);
      running ??= (async () => {
        try {
          const m = await poll();
          if (m && !stopped) await onChange(m);
          return m;
        } finally {
          running = null;
        }
      })();
      return running;
    };

    const timer = setInterval(() => {
      if (!running) check().catch(onError);
    }, Math.max(50, intervalMs));
    timer.unref();
    return {
      check,
      stop() {
        stopped = true;
        clearInterval(timer);
      },
    };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private async loadCA(): Promise<{ ca: CertKeyPem; created: boolean }> {
    const f = this.files;
    const [certPem, keyPem] = await Promise.all([readOrNull(f.ca), readOrNull(f.caKey)]);
    if (certPem && keyPem && keyMatchesCertificate(certPem, keyPem) && certificateValidity(certPem).notAfter > this.now()) {
      await keepPrivate(f.caKey);
      return { ca: { certPem, keyPem }, created: false };
    }
    // first start, an incomplete pair from an interrupted first start, or (after 10 years)
    // an expired CA: a new CA, which clients must trust again (caCreated tells the caller).
    // The key goes first, so a crash in between leaves no certificate without its key.
    // the key on the thread pool: a first start in the desktop app must not freeze its main process
    const ca = createCA({ now: this.now(), keyPem: await generateRsaKeyPemAsync(CA_KEY_BITS) });
    await writeAtomic(f.caKey, ca.keyPem, 0o600);
    await writeAtomic(f.ca, ca.certPem, 0o644);
    return { ca, created: true };
  }

  private async ensureManaged(addresses: AddressSet): Promise<TlsMaterial> {
    const f = this.files;
    const set = normalizeAddressSet(addresses);
    await ensurePrivateDir(f.dir);
    const { ca, created } = await this.loadCA();
    const [chain, key] = await Promise.all([readOrNull(f.cert), readOrNull(f.key)]);
    const now = this.now();
    const reason: ReissueReason | null = created ? (chain ? 'other-ca' : 'missing') : reissueReason(chain && key ? { certPem: chain, keyPem: key } : null, ca.certPem, set, now, this.renewBeforeDays);
    const files = { cert: f.cert, key: f.key, ca: f.ca };
    if (!reason) {
      await keepPrivate(f.key);
      return material('managed', ca.certPem, chain!, key!, files, { reissued: false, reason: null, caCreated: false });
    }
    const leafKey = await generateRsaKeyPemAsync(LEAF_KEY_BITS);
    const commonName = this.opts.commonName ?? normalizeDnsName((this.opts.discover?.hostname ?? os.hostname)()) ?? 'localhost';
    const leaf = issueLeaf(ca, set, now, { keyPem: leafKey, commonName });
    const newChain = leaf.certPem + ca.certPem;
    // key first: a crash in between leaves a mismatched pair, which the next start reissues
    await writeAtomic(f.key, leaf.keyPem, 0o600);
    await writeAtomic(f.cert, newChain, 0o644);
    return material('managed', ca.certPem, newChain, leaf.keyPem, files, { reissued: true, reason, caCreated: created });
  }
}

/** Managed (or, with opts.provided, bring-your-own) TLS material for `dataDir`. */
export function loadOrCreate(dataDir: string, addresses?: AddressSet, opts: TlsStoreOptions = {}): Promise<TlsMaterial> {
  return new TlsStore(dataDir, opts).loadOrCreate(addresses);
}
