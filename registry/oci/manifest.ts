// Media types and manifest parsing/validation: Docker schema2 manifest and manifest list,
// OCI image manifest and index, with OCI 1.1 artifact fields (artifactType, subject).
import { OciError } from './errors';
import { parseDigest, Digest } from './grammar';

export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

const IMAGE_TYPES = new Set<string>([MT.dockerManifest, MT.ociManifest]);
const INDEX_TYPES = new Set<string>([MT.dockerList, MT.ociIndex]);
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList];

/** Layers that registries do not hold (Windows foreign layers, OCI non-distributable). */
const FOREIGN_LAYER = /(foreign|nondistributable)/;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: unknown;
}

export interface ParsedManifest {
  mediaType: string;
  kind: 'image' | 'index';
  /** blobs that must exist in the repository (config and layers) */
  blobs: Digest[];
  /** child manifests that must exist in the repository (index / list) */
  manifests: Digest[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
  configMediaType?: string;
}

function invalid(reason: string): never {
  throw new OciError('MANIFEST_INVALID', 'manifest invalid', { reason });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkAnnotations(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) invalid(`${where}.annotations must be an object`);
  for (const [k, val] of Object.entries(v)) if (typeof val !== 'string') invalid(`${where}.annotations.${k} must be a string`);
  return v as Record<string, string>;
}

function checkDescriptor(v: unknown, where: string): Descriptor & { parsed: Digest } {
  if (!isObject(v)) invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType.length === 0) invalid(`${where}.mediaType must be a string`);
  const parsed = typeof digest === 'string' ? parseDigest(digest) : null;
  if (!parsed) invalid(`${where}.digest is not a valid digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) invalid(`${where}.size must be a non-negative integer`);
  if (v.urls !== undefined && (!Array.isArray(v.urls) || v.urls.some((u) => typeof u !== 'string'))) invalid(`${where}.urls must be strings`);
  if (v.artifactType !== undefined && typeof v.artifactType !== 'string') invalid(`${where}.artifactType must be a string`);
  checkAnnotations(v.annotations, where);
  return { ...(v as unknown as Descriptor), parsed };
}

/** Media type a stored manifest body declares or implies (for data written without one). */
export function impliedMediaType(doc: Record<string, unknown>): string {
  if (typeof doc.mediaType === 'string') return doc.mediaType;
  return Array.isArray(doc.manifests) ? MT.ociIndex : MT.ociManifest;
}

/**
 * Validate a manifest body for the Content-Type it was sent with (parameters ignored).
 * Returns what storage needs: the media type to store, the references to check, the subject.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    invalid('body is not valid JSON');
  }
  if (!isObject(doc)) invalid('manifest must be a JSON object');
  if (doc.schemaVersion !== 2) invalid('schemaVersion must be 2 (schema1 is not supported)');
  const ct = contentType?.split(';')[0].trim().toLowerCase() || undefined;
  const declared = doc.mediaType;
  if (declared !== undefined && typeof declared !== 'string') invalid('mediaType must be a string');
  if (declared && ct && declared !== ct) invalid(`mediaType ${declared} does not match Content-Type ${ct}`);
  let mediaType = declared ?? ct;
  if (!mediaType) mediaType = impliedMediaType(doc);
  if (!IMAGE_TYPES.has(mediaType) && !INDEX_TYPES.has(mediaType)) {
    invalid(`unsupported manifest media type ${mediaType}`);
  }
  if (mediaType.startsWith('application/vnd.docker') && declared === undefined) invalid('Docker manifests must declare mediaType');

  const out: ParsedManifest = { mediaType, kind: IMAGE_TYPES.has(mediaType) ? 'image' : 'index', blobs: [], manifests: [] };
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== 'string') invalid('artifactType must be a string');
    out.artifactType = doc.artifactType;
  }
  out.annotations = checkAnnotations(doc.annotations, 'manifest');
  if (doc.subject !== undefined) {
    const s = checkDescriptor(doc.subject, 'subject');
    out.subject = { mediaType: s.mediaType, digest: s.digest, size: s.size };
  }

  if (out.kind === 'image') {
    if (doc.manifests !== undefined) invalid('an image manifest has no manifests list');
    const config = checkDescriptor(doc.config, 'config');
    out.configMediaType = config.mediaType;
    out.blobs.push(config.parsed);
    if (!Array.isArray(doc.layers)) invalid('layers must be an array');
    doc.layers.forEach((l, i) => {
      const d = checkDescriptor(l, `layers[${i}]`);
      if (FOREIGN_LAYER.test(d.mediaType) && d.urls?.length) return;
      out.blobs.push(d.parsed);
    });
  } else {
    if (doc.layers !== undefined || doc.config !== undefined) invalid('an index has no config or layers');
    if (!Array.isArray(doc.manifests)) invalid('manifests must be an array');
    doc.manifests.forEach((m, i) => out.manifests.push(checkDescriptor(m, `manifests[${i}]`).parsed));
  }
  return out;
}

/** The descriptor the referrers API lists for a stored manifest. */
export function referrerDescriptor(p: ParsedManifest, digest: string, size: number): Descriptor {
  const d: Descriptor = { mediaType: p.mediaType, digest, size };
  const artifactType = p.artifactType ?? (p.kind === 'image' ? p.configMediaType : undefined);
  if (artifactType) d.artifactType = artifactType;
  if (p.annotations && Object.keys(p.annotations).length) d.annotations = p.annotations;
  return d;
}
