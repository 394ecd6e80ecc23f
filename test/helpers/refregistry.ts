// Start Debian's `docker-registry` (= registry:2 v2.8.2), the reference implementation,
// for interop tests and side-by-side benchmarks.
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, waitForHttp, tempDir, freePort, requireTool, Daemon } from './proc';

export interface RefRegistry extends Daemon {
  url: string;
  host: string;
  port: number;
  dataDir: string;
}

export interface RefRegistryOptions {
  dataDir?: string;
  deleteEnabled?: boolean;
  /** path to an htpasswd file: turns on Basic auth */
  htpasswd?: string;
  realm?: string;
}

export async function startRefRegistry(opts: RefRegistryOptions = {}): Promise<RefRegistry> {
  const bin = requireTool('docker-registry');
  const dataDir = opts.dataDir ?? tempDir('ref-data');
  const port = await freePort();
  const confDir = tempDir('ref-conf');
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dataDir}`,
    '  delete:',
    `    enabled: ${opts.deleteEnabled ? 'true' : 'false'}`,
    '  cache:',
    '    blobdescriptor: inmemory',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (opts.htpasswd) {
    lines.push('auth:', '  htpasswd:', `    realm: ${opts.realm ?? 'registry'}`, `    path: ${opts.htpasswd}`);
  }
  const conf = path.join(confDir, 'config.yml');
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('REGISTRY_')) delete env[k];
  const d = startDaemon(bin, ['serve', conf], { env });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`);
  const stop = async (graceMs?: number) => {
    await d.stop(graceMs);
    fs.rmSync(confDir, { recursive: true, force: true });
  };
  return { ...d, stop, url, host: `127.0.0.1:${port}`, port, dataDir };
}
