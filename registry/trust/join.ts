// The LAN join flow: a one-line command Lanyard shows for other machines, and the join.sh
// it runs.
//
// The one-liner downloads the CA without verification (curl -k: there is nothing to verify
// it with yet), but pins it: it decodes the PEM to DER, hashes it, and compares with the
// SHA-256 fingerprint embedded in the command. Only on a match does it rebuild the PEM
// from the verified DER, fetch join.sh over TLS verified with that CA, and run it as root.
// A wrong fingerprint stops before anything is fetched or installed.
//
// join.sh (served by the registry, see routes.ts) installs the CA into the OS trust store
// (Debian/Ubuntu/Alpine, RHEL/Fedora, Arch, openSUSE, detected from /etc/os-release) and into
// /etc/docker/certs.d/<addr>/ca.crt and /etc/containers/certs.d/<addr>/ca.crt for every
// registry address, then prints the `docker login` line.
import crypto from 'node:crypto';
import { checkAddress, distroWords, osStoreSpec, shQuote, type DistroFamily } from './plan';

export interface JoinMaterial {
  /** how other machines reach the registry: hosts or HOST:PORT (a bare host gets `port`) */
  addresses: readonly string[];
  port: number;
  /** the CA certificate, PEM */
  caPem: string;
  /** SHA-256 of the CA (hex, with or without colons) */
  fingerprint: string;
}

/** 64 lower-case hex digits, or throws. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/^sha256[:=]?/i, '').replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error('a SHA-256 fingerprint has 64 hex digits');
  return hex;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
}

/** The HOST:PORT addresses another machine may use (loopback ones are left out). */
export function joinAddresses(m: Pick<JoinMaterial, 'addresses' | 'port'>): string[] {
  const out: string[] = [];
  for (const a of m.addresses) {
    const bareV6 = /^[0-9a-fA-F]*:[0-9a-fA-F]*:[0-9a-fA-F:.]*$/.test(a);
    const withPort = /:\d+$/.test(a) && !bareV6 ? a : `${bareV6 ? `[${a}]` : a}:${m.port}`;
    const host = withPort.slice(0, withPort.lastIndexOf(':'));
    if (isLoopback(host)) continue;
    checkAddress(withPort);
    if (!out.includes(withPort)) out.push(withPort);
  }
  return out;
}

/** The single CA certificate of `pem`, checked against the fingerprint. */
function pinnedCa(m: JoinMaterial): { pem: string; fingerprint: string } {
  const fingerprint = normalizeFingerprint(m.fingerprint);
  const blocks = m.caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length !== 1) throw new Error('the CA PEM must hold exactly one certificate');
  const der = new crypto.X509Certificate(blocks[0]).raw;
  if (crypto.createHash('sha256').update(der).digest('hex') !== fingerprint) throw new Error('the CA does not match its fingerprint');
  return { pem: blocks[0].replace(/\r\n/g, '\n') + '\n', fingerprint };
}

export interface JoinCommandOptions {
  /** the address the other machine uses to reach the registry, HOST:PORT */
  addr: string;
  fingerprint: string;
}

/**
 * The one-line command for another machine (POSIX shell with curl, sed, base64 and
 * sha256sum or shasum; sudo unless already root).
 */
export function renderJoinCommand(opts: JoinCommandOptions): string {
  const addr = checkAddress(opts.addr);
  const fp = normalizeFingerprint(opts.fingerprint);
  const base = `https://${addr}/lanyard`;
  const inner = [
    'set -e',
    'd=$(mktemp -d)',
    'trap "rm -rf \\"$d\\"" EXIT',
    `curl -fsSk ${base}/ca.crt -o "$d/download" || { echo "Lanyard: cannot download ${base}/ca.crt" >&2; exit 1; }`,
    'sed "/^-----/d; s/\\r$//" "$d/download" | base64 -d > "$d/ca.der" 2>/dev/null || true',
    'fp=$({ sha256sum 2>/dev/null || shasum -a 256; } < "$d/ca.der" | cut -c1-64)',
    `if [ "$fp" != ${fp} ]; then echo "Lanyard: CA fingerprint mismatch: expected ${fp}, got $fp. This is not the registry you were given the command for. Nothing was installed." >&2; exit 1; fi`,
    '{ echo "-----BEGIN CERTIFICATE-----"; base64 < "$d/ca.der"; echo "-----END CERTIFICATE-----"; } > "$d/ca.crt"',
    `curl -fsS --cacert "$d/ca.crt" ${base}/join.sh -o "$d/join.sh"`,
    'if [ "$(id -u)" = 0 ]; then sh "$d/join.sh"; else sudo sh "$d/join.sh"; fi',
  ].join('; ');
  if (inner.includes("'")) throw new Error('internal: the join command must not contain single quotes');
  return `sh -c '${inner}'`;
}

const FAMILY_ORDER: DistroFamily[] = ['debian', 'rhel', 'arch', 'suse'];

/** join.sh for `m`; `preferred` (one of the addresses) goes into the docker login line. */
export function renderJoinScript(m: JoinMaterial, opts: { preferred?: string } = {}): string {
  const { pem, fingerprint } = pinnedCa(m);
  const addresses = joinAddresses(m);
  if (addresses.length === 0) throw new Error('no address other machines can use (the registry listens on loopback only)');
  const login = opts.preferred && addresses.includes(opts.preferred) ? opts.preferred : addresses.find((a) => /^\d/.test(a)) ?? addresses[0];
  const name = `lanyard-${fingerprint.slice(0, 16)}`;
  const colon = (fingerprint.toUpperCase().match(/../g) ?? []).join(':');
  const cases = FAMILY_ORDER.map((f) => `    ${distroWords(f).join('|')}) family=${f} ;;`).join('\n');
  const stores = FAMILY_ORDER.map((f) => {
    const s = osStoreSpec(f);
    return `  ${f}) store_dir=${shQuote(s.dir)}; store_file="$NAME${s.ext}"; refresh=${shQuote(s.refresh.join(' '))} ;;`;
  }).join('\n');
  return `#!/bin/sh
# Lanyard join script: make this machine trust the Lanyard registry
#   ${addresses.join(' ')}
# CA ${name}, SHA-256 fingerprint
#   ${colon}
# It adds the CA to the system trust store and to /etc/docker/certs.d/<address>/ca.crt and
# /etc/containers/certs.d/<address>/ca.crt (Docker, podman, buildah, skopeo). Run it as root.
set -eu
NAME=${shQuote(name)}
ADDRESSES=${shQuote(addresses.join(' '))}
LOGIN=${shQuote(login)}

if [ "$(id -u)" != 0 ]; then
  echo "lanyard: run this as root (sudo sh $0)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/ca.crt" <<'LANYARD_CA_PEM'
${pem}LANYARD_CA_PEM

same_file() {
  if command -v cmp >/dev/null 2>&1; then cmp -s "$1" "$2"; else [ "$(cat "$1")" = "$(cat "$2")" ]; fi
}
# install_ca DIR FILE: put the CA at DIR/FILE; a different file already there is kept as FILE.lanyard-backup
install_ca() {
  mkdir -p "$1"
  if [ -f "$1/$2" ] && same_file "$work/ca.crt" "$1/$2"; then
    echo "  already there: $1/$2"
    return 0
  fi
  if [ -e "$1/$2" ]; then
    if [ -e "$1/$2.lanyard-backup" ]; then
      echo "lanyard: $1/$2 holds another certificate and $1/$2.lanyard-backup exists: not replacing it" >&2
      failed=1
      return 0
    fi
    mv "$1/$2" "$1/$2.lanyard-backup"
    echo "  kept the previous $1/$2 as $1/$2.lanyard-backup"
  fi
  cp "$work/ca.crt" "$1/$2"
  chmod 0644 "$1/$2"
  echo "  added $1/$2"
}

os_id=''
os_like=''
for f in /etc/os-release /usr/lib/os-release; do
  if [ -r "$f" ]; then
    os_id=$(sed -n 's/^ID=//p' "$f" | tr -d "\\"'")
    os_like=$(sed -n 's/^ID_LIKE=//p' "$f" | tr -d "\\"'")
    break
  fi
done
family=''
for w in $os_id $os_like; do
  case "$w" in
${cases}
    *) continue ;;
  esac
  break
done

failed=0
echo "Lanyard: trusting the registry CA $NAME"
store_dir=''
case "$family" in
${stores}
esac
if [ -n "$store_dir" ]; then
  echo "System trust store ($family):"
  install_ca "$store_dir" "$store_file"
  tool=\${refresh%% *}
  if command -v "$tool" >/dev/null 2>&1; then
    if $refresh >/dev/null; then echo "  ran $refresh"; else echo "lanyard: $refresh failed" >&2; failed=1; fi
  else
    echo "lanyard: $tool is not installed (Alpine: apk add ca-certificates; Debian/Ubuntu: apt-get install ca-certificates); the system store was not refreshed" >&2
    failed=1
  fi
else
  echo "lanyard: unknown Linux distribution (ID=\${os_id:-none}): the system trust store is left alone" >&2
fi

for a in $ADDRESSES; do
  echo "Registry $a:"
  install_ca "/etc/docker/certs.d/$a" ca.crt
  install_ca "/etc/containers/certs.d/$a" ca.crt
done

echo
if [ "$failed" != 0 ]; then
  echo "Lanyard: done, with the problems shown above."
else
  echo "Lanyard: done. This machine now trusts the registry."
fi
echo "Log in with:"
echo "  docker login $LOGIN"
exit "$failed"
`;
}
