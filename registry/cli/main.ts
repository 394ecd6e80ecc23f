// The `lanyard` command line. `lanyard serve` runs the registry headless.
import { parseArgs } from 'node:util';
import { isLoopback, resolveServeConfig } from '../config';
import { startRegistry } from '../server';

const USAGE = `Usage: lanyard <command> [options]

Commands:
  serve     run the registry (headless)
  help      show this help
  version   print the version

serve options:
  --addr HOST:PORT     listen address (default 127.0.0.1:5000; env REGISTRY_HTTP_ADDR)
  --data DIR           data directory, registry:2 layout (default: per-user data dir;
                       env REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY)
  --delete-enabled     allow DELETE of manifests, tags and blobs
                       (env REGISTRY_STORAGE_DELETE_ENABLED=true)
`;

function version(): string {
  // package.json sits two levels above dist/registry/cli
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../../package.json') as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'version':
    case '--version':
    case '-v':
      console.log(version());
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`lanyard: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      addr: { type: 'string' },
      data: { type: 'string' },
      'delete-enabled': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const cfg = resolveServeConfig({ addr: values.addr, data: values.data, deleteEnabled: values['delete-enabled'] });
  const reg = await startRegistry(cfg);
  console.log(`Lanyard ${version()} registry listening on ${reg.url} (data: ${cfg.dataDir}${cfg.deleteEnabled ? ', delete enabled' : ''})`);
  if (!isLoopback(reg.host)) {
    console.warn('WARNING: listening beyond loopback without authentication or TLS: anyone on the network can push and pull.');
  }
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      console.log(`lanyard: ${sig}, shutting down`);
      reg.close().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
