// `lanyard gc`: remove blobs no manifest references (registry:2's `garbage-collect`).
import { parseArgs } from 'node:util';
import { resolveDataDir } from '../config';
import { collectGarbage } from '../storage/gc';
import { RegistryPaths } from '../storage/paths';
import { liveServer } from '../storage/serverlock';

export const GC_USAGE = `Usage: lanyard gc [--data DIR] [--dry-run] [--delete-untagged]

Deletes the blobs that no manifest of any repository references, like registry:2's
garbage-collect. Stop the registry first: gc refuses to run under a Lanyard server that
uses the same data directory (and cannot see a registry:2 one: stop that yourself).

  --dry-run          only list what would be deleted
  --delete-untagged  also remove manifests no tag reaches (not as a tag's target, an index's
                     child, or a referrer of a kept manifest), and then their blobs
`;

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export async function gcCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        data: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        'delete-untagged': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`lanyard gc: ${(e as Error).message}\n\n${GC_USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(GC_USAGE);
    return 0;
  }
  const dataDir = resolveDataDir(values.data);
  const paths = new RegistryPaths(dataDir);
  const server = liveServer(paths);
  if (server) {
    console.error(`lanyard gc: a Lanyard server (pid ${server.pid}, ${server.url}) is using ${dataDir}; stop it first.`);
    console.error(`(If that process is not Lanyard, remove ${paths.serverFile()}.)`);
    return 1;
  }
  const dryRun = values['dry-run'];
  const r = await collectGarbage(dataDir, { dryRun, deleteUntagged: values['delete-untagged'] });
  const verb = dryRun ? 'would remove' : 'removed';
  for (const m of r.manifestsRemoved) console.log(`manifest ${m.repo}@${m.digest}: ${verb}`);
  for (const b of r.blobsRemoved) console.log(`blob ${b.digest} (${mb(b.bytes)}): ${verb}`);
  for (const p of r.problems) console.warn(`warning: ${p}`);
  console.log(
    `${r.repositories} repositories; manifests kept ${r.manifestsKept}, ${verb} ${r.manifestsRemoved.length}; ` +
      `blobs kept ${r.blobsKept}, ${verb} ${r.blobsRemoved.length} (${mb(r.bytesFreed)})${dryRun ? ' [dry run: nothing changed]' : ''}`,
  );
  return 0;
}
