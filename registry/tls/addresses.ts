// The names and addresses the server certificate must cover: loopback, this machine's
// host name (and its mDNS .local form), every LAN address, plus extras (e.g. a specific
// bind address). The result is normalised (lower-case names, canonical IPs), sorted and
// deduplicated, so two discoveries of the same network compare equal via addressKey().
import net from 'node:net';
import os from 'node:os';

export interface AddressSet {
  /** DNS names, lower-case, sorted */
  dnsNames: string[];
  /** IP addresses in canonical text form (IPv4 first, then IPv6), sorted */
  ips: string[];
}

export type InterfaceSource = () => NodeJS.Dict<os.NetworkInterfaceInfo[]>;

export interface DiscoverOptions {
  /** names or IPs to add (e.g. the bind address when it is a specific IP, REGISTRY_HTTP_HOST) */
  extra?: readonly string[];
  /** defaults to os.networkInterfaces */
  interfaces?: InterfaceSource;
  /** defaults to os.hostname */
  hostname?: () => string;
}

const MAX_DNS_NAME = 253;

/** Lower-case DNS name if it can go into a dNSName SAN (letters, digits, '-', '_', dots), else null. */
export function normalizeDnsName(name: string): string | null {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  if (n.length === 0 || n.length > MAX_DNS_NAME) return null;
  const labels = n.split('.');
  for (const l of labels) {
    if (l.length === 0 || l.length > 63) return null;
    if (!/^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/.test(l)) return null;
  }
  return n;
}

/** 4 or 16 network-order bytes of an IP address (no zone id), or null when it is not one. */
export function ipToBytes(ip: string): Buffer | null {
  const s = ip.trim();
  if (net.isIPv4(s)) return Buffer.from(s.split('.').map(Number));
  if (!net.isIPv6(s) || s.includes('%')) return null;
  let text = s;
  let v4: number[] | null = null;
  if (text.includes('.')) {
    const at = text.lastIndexOf(':');
    v4 = text.slice(at + 1).split('.').map(Number);
    text = `${text.slice(0, at + 1)}0:0`;
  }
  const halves = text.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length > 1 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail];
  if (groups.length !== 8) return null;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (v4) Buffer.from(v4).copy(out, 12);
  return out;
}

/** Text of 4 or 16 address bytes: dotted IPv4, or RFC 5952 IPv6 (lower-case, longest zero run as "::"). */
export function bytesToIp(b: Uint8Array): string | null {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length !== 16) return null;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an IP address, or null when `ip` is not one (or carries a zone id). */
export function normalizeIp(ip: string): string | null {
  const b = ipToBytes(ip);
  return b ? bytesToIp(b) : null;
}

function isUnspecified(b: Buffer): boolean {
  return b.every((x) => x === 0);
}

function isIpv6LinkLocal(b: Buffer): boolean {
  return b.length === 16 && b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;
}

/** Order: IPv4 before IPv6, then numerically. */
export function compareIps(a: string, b: string): number {
  const x = ipToBytes(a);
  const y = ipToBytes(b);
  if (!x || !y) return a < b ? -1 : a > b ? 1 : 0;
  return x.length - y.length || Buffer.compare(x, y);
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sort, deduplicate and normalise a set (names lower-case, IPs canonical; invalid entries dropped). */
export function normalizeAddressSet(set: { dnsNames: Iterable<string>; ips: Iterable<string> }): AddressSet {
  const dns = new Set<string>();
  for (const n of set.dnsNames) {
    const v = normalizeDnsName(n);
    if (v) dns.add(v);
  }
  const ips = new Set<string>();
  for (const ip of set.ips) {
    const v = normalizeIp(ip);
    if (v) ips.add(v);
  }
  return { dnsNames: [...dns].sort(byteOrder), ips: [...ips].sort(compareIps) };
}

/** A stable string for a set: equal sets (in any order or spelling) give equal keys. */
export function addressKey(set: AddressSet): string {
  const n = normalizeAddressSet(set);
  return `dns=${n.dnsNames.join(',')};ip=${n.ips.join(',')}`;
}

/** True when both sets cover exactly the same names and addresses. */
export function sameAddresses(a: AddressSet, b: AddressSet): boolean {
  return addressKey(a) === addressKey(b);
}

/** Host names for this machine: the name itself, its first label when it is a FQDN, and `<label>.local`. */
export function hostNames(hostname: string): string[] {
  const h = normalizeDnsName(hostname);
  if (!h) return [];
  const out = [h];
  if (h.endsWith('.local')) return out;
  const label = h.split('.')[0]!;
  if (label !== h) out.push(label);
  if (label !== 'localhost') out.push(`${label}.local`);
  return out;
}

/** The LAN addresses worth a SAN: non-internal, no IPv6 link-local, no scoped IPv6, no unspecified. */
export function interfaceAddresses(source: InterfaceSource = os.networkInterfaces): string[] {
  const out: string[] = [];
  const ifaces = source();
  for (const list of Object.values(ifaces)) {
    for (const info of list ?? []) {
      if (info.internal) continue;
      if (info.address.includes('%')) continue;
      const b = ipToBytes(info.address);
      if (!b || isUnspecified(b)) continue;
      if (b.length === 16) {
        if (isIpv6LinkLocal(b)) continue;
        const scope = (info as os.NetworkInterfaceInfoIPv6).scopeid;
        if (typeof scope === 'number' && scope !== 0) continue;
      }
      out.push(bytesToIp(b)!);
    }
  }
  return out;
}

/** The host part of an extra entry: a name, an IP, "[v6]", "host:port" or a URL (REGISTRY_HTTP_HOST). */
function extraHost(entry: string): string {
  let e = entry.trim();
  if (e.includes('://')) {
    try {
      e = new URL(e).hostname;
    } catch {
      return '';
    }
  }
  if (net.isIP(e)) return e;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(e);
  if (bracketed) return bracketed[1]!;
  return e.replace(/:\d+$/, '');
}

/** Everything the server certificate must cover, normalised, sorted and deduplicated. */
export function discoverAddresses(opts: DiscoverOptions = {}): AddressSet {
  const dnsNames: string[] = ['localhost', ...hostNames((opts.hostname ?? os.hostname)())];
  const ips: string[] = ['127.0.0.1', '::1', ...interfaceAddresses(opts.interfaces)];
  for (const e of opts.extra ?? []) {
    const raw = extraHost(e);
    if (!raw) continue;
    const b = ipToBytes(raw);
    if (b) {
      if (!isUnspecified(b)) ips.push(bytesToIp(b)!);
    } else if (!net.isIP(raw.split('%')[0] ?? '')) {
      dnsNames.push(raw);
    }
  }
  return normalizeAddressSet({ dnsNames, ips });
}
