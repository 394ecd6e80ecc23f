// The OCI Distribution grammar for repository names, tags and digests. Every value from a
// URL passes through here before it can reach storage: nothing invalid becomes a path.
import { OciError } from './errors';

const NAME_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST_HEX: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};
// A well-formed digest whose algorithm we may not support (spec grammar).
const DIGEST_SHAPE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const UPLOAD_ID = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

export const MAX_NAME_LENGTH = 255;

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface Digest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** "sha256:<hex>" */
  value: string;
}

export function isValidName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  for (const c of name.split('/')) if (!NAME_COMPONENT.test(c)) return false;
  return true;
}

export function checkName(name: string): string {
  if (!isValidName(name)) {
    throw new OciError('NAME_INVALID', 'invalid repository name', { name: name.length > 300 ? name.slice(0, 300) + '…' : name });
  }
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function parseDigest(value: string): Digest | null {
  const i = value.indexOf(':');
  if (i <= 0) return null;
  const algorithm = value.slice(0, i);
  const hex = value.slice(i + 1);
  const re = DIGEST_HEX[algorithm];
  if (!re || !re.test(hex)) return null;
  return { algorithm: algorithm as DigestAlgorithm, hex, value };
}

export function checkDigest(value: string | undefined | null): Digest {
  const d = value ? parseDigest(value) : null;
  if (!d) {
    const unsupported = value && DIGEST_SHAPE.test(value) && !(value.split(':')[0] in DIGEST_HEX);
    throw new OciError('DIGEST_INVALID', unsupported ? 'unsupported digest algorithm' : 'invalid digest', { digest: value ?? null });
  }
  return d;
}

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

/** A manifest reference: a tag, or (anything with a colon) a digest. */
export function parseReference(ref: string): Reference {
  if (ref.includes(':')) return { kind: 'digest', digest: checkDigest(ref) };
  if (!isValidTag(ref)) throw new OciError('TAG_INVALID', 'invalid tag', { tag: ref.slice(0, 200) });
  return { kind: 'tag', tag: ref };
}

export function isValidUploadId(id: string): boolean {
  return UPLOAD_ID.test(id);
}

export function checkUploadId(id: string): string {
  if (!isValidUploadId(id)) throw new OciError('BLOB_UPLOAD_UNKNOWN', 'upload unknown', { uuid: id.slice(0, 100) });
  return id;
}
