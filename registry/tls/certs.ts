// The local certificate authority and the server certificate it issues, in the profile
// OS trust stores accept (REFERENCE §3). Keys come from Node's native RSA generator (fast);
// certificates are built and signed with node-forge. Inspection helpers work for any
// certificate (RSA or not) by reading the DER structure directly.
import crypto from 'node:crypto';
import os from 'node:os';
import forge from 'node-forge';
import { bytesToIp, ipToBytes, normalizeAddressSet, normalizeDnsName, type AddressSet } from './addresses';

export const CA_KEY_BITS = 3072;
export const LEAF_KEY_BITS = 2048;
export const CA_VALIDITY_YEARS = 10;
/** macOS rejects TLS server certificates valid for longer than 825 days */
export const LEAF_MAX_VALIDITY_DAYS = 825;
/** notBefore is back-dated this much so a client with a slightly slow clock accepts a fresh certificate */
export const BACKDATE_MS = 60_000;

const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate and its private key, both PEM. */
export interface CertKeyPem {
  certPem: string;
  keyPem: string;
}

export interface CreateCaOptions {
  now?: Date;
  /** default: `Lanyard Local CA <first 8 hex digits of the serial>` */
  commonName?: string;
  /** use this RSA key (≥ 3072 bits, PEM) instead of generating one, e.g. from generateRsaKeyPemAsync */
  keyPem?: string;
}

export interface IssueLeafOptions {
  /** default: this machine's host name (clients match SANs, not the CN) */
  commonName?: string;
  /** at most LEAF_MAX_VALIDITY_DAYS (the default) */
  validityDays?: number;
  /** use this RSA key instead of generating one (PEM, PKCS#1 or PKCS#8) */
  keyPem?: string;
}

/** A fresh RSA key pair from Node's native generator: PKCS#8 private key PEM. */
export function generateRsaKeyPem(bits: number): string {
  const { privateKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return privateKey;
}

/** The same, without blocking the event loop (the key is generated on the libuv thread pool). */
export function generateRsaKeyPemAsync(bits: number): Promise<string> {
  return new Promise((resolve, reject) => {
    crypto.generateKeyPair(
      'rsa',
      {
        modulusLength: bits,
        publicExponent: 0x10001,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      },
      (err, _pub, priv) => (err ? reject(err) : resolve(priv)),
    );
  });
}

function forgeKeys(keyPem: string): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const privateKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  return { privateKey, publicKey };
}

/** Random positive 128-bit serial as minimal DER INTEGER hex (a 00 prefix when the top bit is set). */
export function randomSerialHex(): string {
  let b = crypto.randomBytes(16);
  while (b[0] === 0) b = crypto.randomBytes(16);
  const hex = b.toString('hex');
  return b[0]! >= 0x80 ? `00${hex}` : hex;
}

function whole(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** A new local CA: RSA 3072, SHA-256, 10 years, CA:true pathlen 0, keyCertSign + cRLSign. */
export function createCA(opts: CreateCaOptions = {}): CertKeyPem {
  const now = opts.now ?? new Date();
  const keyPem = opts.keyPem ?? generateRsaKeyPem(CA_KEY_BITS);
  const { privateKey, publicKey } = forgeKeys(keyPem);
  if (privateKey.n.bitLength() < CA_KEY_BITS) throw new Error(`the CA key must have at least ${CA_KEY_BITS} bits`);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialHex();
  const notBefore = whole(new Date(now.getTime() - BACKDATE_MS));
  const notAfter = new Date(notBefore.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const serialTag = cert.serialNumber.replace(/^00/, '').slice(0, 8).toUpperCase();
  const subject = [
    { shortName: 'O', value: 'Lanyard' },
    { shortName: 'CN', value: opts.commonName ?? `Lanyard Local CA ${serialTag}` },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { certPem: lf(forge.pki.certificateToPem(cert)), keyPem: lf(keyPem) };
}

function defaultCommonName(): string {
  return normalizeDnsName(os.hostname()) ?? 'localhost';
}

/**
 * A server certificate for `addresses`, signed by `ca`: RSA 2048, SHA-256, at most 825 days
 * (never past the CA's own expiry), CA:false, digitalSignature + keyEncipherment, serverAuth,
 * SANs for every name and IP (IPv6 too), AKI = the CA's key id, SKI.
 */
export function issueLeaf(ca: CertKeyPem, addresses: AddressSet, now: Date = new Date(), opts: IssueLeafOptions = {}): CertKeyPem {
  const set = normalizeAddressSet(addresses);
  if (set.dnsNames.length === 0 && set.ips.length === 0) throw new Error('a server certificate needs at least one name or address');
  const days = opts.validityDays ?? LEAF_MAX_VALIDITY_DAYS;
  if (!(days > 0 && days <= LEAF_MAX_VALIDITY_DAYS)) throw new Error(`leaf validity must be 1..${LEAF_MAX_VALIDITY_DAYS} days`);

  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const caKeyId = caSubjectKeyId(caCert);
  const keyPem = opts.keyPem ?? generateRsaKeyPem(LEAF_KEY_BITS);
  const { privateKey: leafKey, publicKey } = forgeKeys(keyPem);
  if (leafKey.n.bitLength() < LEAF_KEY_BITS) throw new Error(`the server key must have at least ${LEAF_KEY_BITS} bits`);

  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialHex();
  const notBefore = whole(new Date(now.getTime() - BACKDATE_MS));
  // validity is inclusive of notAfter: one second short of the full span keeps it ≤ 825 days
  let notAfter = new Date(notBefore.getTime() + days * DAY_MS - 1000);
  if (notAfter > caCert.validity.notAfter) notAfter = whole(caCert.validity.notAfter);
  if (notAfter.getTime() <= now.getTime()) throw new Error('the CA has expired: create a new one');
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;

  const cn = (opts.commonName ?? defaultCommonName()).slice(0, 64) || 'localhost';
  cert.setSubject([
    { shortName: 'O', value: 'Lanyard' },
    { shortName: 'CN', value: cn },
  ]);
  cert.setIssuer(caCert.subject.attributes);

  const altNames: Array<{ type: number; value: string }> = [
    ...set.dnsNames.map((n) => ({ type: 2, value: n })),
    ...set.ips.map((ip) => ({ type: 7, value: ipToBytes(ip)!.toString('binary') })),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caKeyId },
  ]);
  cert.sign(caKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { certPem: lf(forge.pki.certificateToPem(cert)), keyPem: lf(keyPem) };
}

/** The CA's subjectKeyIdentifier bytes (binary string), computed the same way when it has none. */
function caSubjectKeyId(caCert: forge.pki.Certificate): string {
  const ext = caCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
  if (ext?.subjectKeyIdentifier) return forge.util.hexToBytes(ext.subjectKeyIdentifier);
  return caCert.generateSubjectKeyIdentifier().getBytes();
}

// ---------------------------------------------------------------------------------------
// inspection (any key type)

/** The PEM blocks of every certificate in `pem`, in order. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

function firstCertificate(pem: string): crypto.X509Certificate {
  const first = splitPemCertificates(pem)[0];
  if (!first) throw new Error('no PEM certificate found');
  return new crypto.X509Certificate(first);
}

export interface Fingerprint {
  /** "AB:CD:…" upper-case, colon-separated (what openssl and OS dialogs show) */
  colon: string;
  /** "abcd…" lower-case hex, for pinning */
  hex: string;
}

/** SHA-256 over the DER of the (first) certificate in `pem`. */
export function fingerprint256(pem: string): Fingerprint {
  const hex = crypto.createHash('sha256').update(firstCertificate(pem).raw).digest('hex');
  return { colon: hex.toUpperCase().match(/../g)!.join(':'), hex };
}

function tbsFields(pem: string): forge.asn1.Asn1[] {
  const der = firstCertificate(pem).raw.toString('binary');
  const cert = forge.asn1.fromDer(der);
  const tbs = (cert.value as forge.asn1.Asn1[])[0]!;
  return tbs.value as forge.asn1.Asn1[];
}

function asn1Time(node: forge.asn1.Asn1): Date {
  const v = node.value as string;
  return node.type === forge.asn1.Type.UTCTIME ? forge.asn1.utcTimeToDate(v) : forge.asn1.generalizedTimeToDate(v);
}

/** notBefore / notAfter of the (first) certificate in `pem`. */
export function certificateValidity(pem: string): { notBefore: Date; notAfter: Date } {
  const fields = tbsFields(pem);
  // [0] version is optional (context-specific 0); then serial, signature, issuer, validity
  const start = fields[0]!.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && fields[0]!.type === 0 ? 1 : 0;
  const validity = fields[start + 3]!.value as forge.asn1.Asn1[];
  return { notBefore: asn1Time(validity[0]!), notAfter: asn1Time(validity[1]!) };
}

export function certificateExpiry(pem: string): Date {
  return certificateValidity(pem).notAfter;
}

const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** The DNS and IP subject alternative names of the (first) certificate in `pem`, normalised and sorted. */
export function certificateSans(pem: string): AddressSet {
  const dnsNames: string[] = [];
  const ips: string[] = [];
  const extsWrapper = tbsFields(pem).find((f) => f.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && f.type === 3);
  const exts = extsWrapper ? ((extsWrapper.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[]) : [];
  for (const ext of exts) {
    const parts = ext.value as forge.asn1.Asn1[];
    if (forge.asn1.derToOid(parts[0]!.value as string) !== OID_SUBJECT_ALT_NAME) continue;
    const octets = parts[parts.length - 1]!;
    const names = typeof octets.value === 'string' ? forge.asn1.fromDer(octets.value) : (octets.value[0] as forge.asn1.Asn1);
    for (const gn of names.value as forge.asn1.Asn1[]) {
      if (gn.tagClass !== forge.asn1.Class.CONTEXT_SPECIFIC || typeof gn.value !== 'string') continue;
      if (gn.type === 2) dnsNames.push(gn.value);
      else if (gn.type === 7) {
        const ip = bytesToIp(Buffer.from(gn.value, 'binary'));
        if (ip) ips.push(ip);
      }
    }
  }
  return normalizeAddressSet({ dnsNames, ips });
}

/** True when `keyPem` is the private key of the (first) certificate in `certPem`. */
export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  try {
    return firstCertificate(certPem).checkPrivateKey(crypto.createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** True when the (first) certificate in `certPem` was issued and signed by `caPem`. */
export function isIssuedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = firstCertificate(certPem);
    const ca = firstCertificate(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** PEM with plain LF line ends (node-forge writes CRLF, which shell tools choke on). */
function lf(pem: string): string {
  return pem.replace(/\r\n/g, '\n');
}
