// Every on-disk path of the registry, in registry:2's exact filesystem layout, so a data
// directory moves between Lanyard and registry:2 both ways. Nothing else builds paths.
// Inputs are validated values (names, tags, digests, upload ids from ../oci/grammar).
import path from 'node:path';
import type { Digest } from '../oci/grammar';

export class RegistryPaths {
  /** <data>/docker/registry/v2 */
  readonly v2: string;

  constructor(readonly dataDir: string) {
    this.v2 = path.join(dataDir, 'docker', 'registry', 'v2');
  }

  // blobs (content-addressed, shared by all repositories; manifests are blobs too)
  blobsRoot(): string {
    return path.join(this.v2, 'blobs');
  }
  blobDir(d: Digest): string {
    return path.join(this.v2, 'blobs', d.algorithm, d.hex.slice(0, 2), d.hex);
  }
  blobData(d: Digest): string {
    return path.join(this.blobDir(d), 'data');
  }

  // repositories
  repositoriesRoot(): string {
    return path.join(this.v2, 'repositories');
  }
  repo(name: string): string {
    return path.join(this.v2, 'repositories', ...name.split('/'));
  }
  layerLink(name: string, d: Digest): string {
    return path.join(this.repo(name), '_layers', d.algorithm, d.hex, 'link');
  }
  manifestsDir(name: string): string {
    return path.join(this.repo(name), '_manifests');
  }
  revisionsDir(name: string): string {
    return path.join(this.repo(name), '_manifests', 'revisions');
  }
  revisionLink(name: string, d: Digest): string {
    return path.join(this.repo(name), '_manifests', 'revisions', d.algorithm, d.hex, 'link');
  }
  tagsDir(name: string): string {
    return path.join(this.repo(name), '_manifests', 'tags');
  }
  tagDir(name: string, tag: string): string {
    return path.join(this.repo(name), '_manifests', 'tags', tag);
  }
  tagCurrentLink(name: string, tag: string): string {
    return path.join(this.tagDir(name, tag), 'current', 'link');
  }
  tagIndexLink(name: string, tag: string, d: Digest): string {
    return path.join(this.tagDir(name, tag), 'index', d.algorithm, d.hex, 'link');
  }
  uploadsDir(name: string): string {
    return path.join(this.repo(name), '_uploads');
  }
  uploadDir(name: string, id: string): string {
    return path.join(this.repo(name), '_uploads', id);
  }
  uploadData(name: string, id: string): string {
    return path.join(this.uploadDir(name, id), 'data');
  }
  uploadStartedAt(name: string, id: string): string {
    return path.join(this.uploadDir(name, id), 'startedat');
  }

  // Lanyard's own files, outside docker/ so registry:2 never sees them
  lanyardDir(): string {
    return path.join(this.dataDir, 'lanyard');
  }
  /** scratch space for atomic writes: same filesystem as the blobs, so rename is atomic */
  /** which process serves this data directory right now (see ./serverlock) */
  serverFile(): string {
    return path.join(this.dataDir, 'lanyard', 'server.json');
  }
  tmpDir(): string {
    return path.join(this.dataDir, 'lanyard', 'tmp');
  }
  logsDir(): string {
    return path.join(this.dataDir, 'logs');
  }
}
