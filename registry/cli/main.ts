// The `lanyard` command line. `lanyard serve` runs the registry headless.
import { parseArgs } from 'node:util';
import { isLoopback, resolveServeConfig } from '../config';
import { startRegistry } from '../server';
import { usersCommand } from './users';
import { trustCommand } from '../trust/cli';
import { gcCommand } from './gc';
import { renderJoinCommand } from '../trust/join';
import { zeroCopyStatus } from '../storage/zerocopy';

const USAGE = `Usage: lanyard <command> [options]

Commands:
  serve     run the registry (headless)
  users     manage users and roles (lanyard users --help)
  trust     make this machine trust Lanyard's CA (lanyard trust --help)
  gc        delete blobs no manifest references, with the registry stopped (lanyard gc --help)
  help      show this help
  version   print the version

serve options:
  --addr HOST:PORT     listen address (default 127.0.0.1:5000; env REGISTRY_HTTP_ADDR)
  --data DIR           data directory, registry:2 layout (default: per-user data dir;
                       env REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY)
  --delete-enabled     allow DELETE of manifests, tags and blobs
                       (env REGISTRY_STORAGE_DELETE_ENABLED=true)
  --auth / --no-auth   require users (default: on beyond loopback or when users exist;
                       env REGISTRY_AUTH=htpasswd)
  --htpasswd FILE      users file (default <data>/auth/htpasswd; env REGISTRY_AUTH_HTPASSWD_PATH)
  --realm NAME         Basic auth realm (env REGISTRY_AUTH_HTPASSWD_REALM)
  --anonymous-pull     let anyone pull without logging in (settings.json: anonymousPull)
  --tls                HTTPS even on loopback (default: HTTPS beyond loopback, with
                       Lanyard's own CA; env REGISTRY_HTTP_TLS_CERTIFICATE/_KEY: your own)
  --insecure-http      plain HTTP even beyond loopback
  --no-mdns            do not advertise the registry on the LAN (mDNS)
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
    case 'users':
      return usersCommand(rest);
    case 'trust':
      return trustCommand(rest);
    case 'gc':
      return gcCommand(rest);
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
      auth: { type: 'boolean' },
      'no-auth': { type: 'boolean' },
      htpasswd: { type: 'string' },
      realm: { type: 'string' },
      'anonymous-pull': { type: 'boolean' },
      tls: { type: 'boolean' },
      'insecure-http': { type: 'boolean' },
      'no-mdns': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.auth && values['no-auth']) throw new Error('--auth and --no-auth contradict each other');
  if (values.tls && values['insecure-http']) throw new Error('--tls and --insecure-http contradict each other');
  const cfg = resolveServeConfig({
    addr: values.addr,
    data: values.data,
    deleteEnabled: values['delete-enabled'],
    auth: values.auth ? true : values['no-auth'] ? false : undefined,
    htpasswd: values.htpasswd,
    realm: values.realm,
    anonymousPull: values['anonymous-pull'],
    tls: values.tls ? true : values['insecure-http'] ? false : undefined,
    mdns: values['no-mdns'] ? false : undefined,
  });
  const reg = await startRegistry(cfg);
  console.log(`Lanyard ${version()} registry listening on ${reg.url} (data: ${cfg.dataDir}${cfg.deleteEnabled ? ', delete enabled' : ''})`);
  const zc = zeroCopyStatus();
  console.log(zc.enabled ? `Downloads: zero-copy (sendfile) over plain HTTP${reg.url.startsWith('https:') ? '; this HTTPS listener uses buffers' : ''}` : `Downloads: buffered (${zc.reason})`);
  if (reg.initialAdmin) {
    console.log('');
    console.log(`  Created the first user: ${reg.initialAdmin.name}`);
    console.log(`  Password: ${reg.initialAdmin.password}`);
    console.log('  It is shown only this once and stored only as a bcrypt hash. Change it with');
    console.log(`  lanyard users passwd ${reg.initialAdmin.name} --data ${cfg.dataDir}`);
    console.log('');
  }
  const tls = reg.tls();
  if (tls?.caFingerprint) {
    console.log(`TLS: certificate from Lanyard's CA (SHA-256 fingerprint ${tls.caFingerprint})`);
    console.log(`     names: ${[...tls.sans.dnsNames, ...tls.sans.ips].join(', ')}`);
    console.log(`     trust it here: lanyard trust install --data ${cfg.dataDir}`);
    const lan = tls.sans.ips.find((ip) => !ip.includes(':') && !ip.startsWith('127.'));
    if (lan && !isLoopback(reg.host)) {
      console.log('     on other machines (checks the fingerprint first, then installs with sudo):');
      console.log(`     ${renderJoinCommand({ addr: `${lan}:${reg.port}`, fingerprint: tls.caFingerprint })}`);
    }
  } else if (tls) {
    console.log(`TLS: your certificate ${tls.files.cert}`);
  } else if (!isLoopback(reg.host)) {
    console.warn('WARNING: plain HTTP beyond loopback (--insecure-http): credentials and images cross the network unencrypted.');
  }
  if (reg.guard) {
    const anon = reg.settings.current().anonymousPull;
    console.log(`Authentication: on (users in ${reg.users.htpasswdPath}${anon ? '; anonymous pull allowed' : ''})`);
  } else if (isLoopback(reg.host)) {
    console.log('Authentication: off (loopback only, no users): anyone on this machine can push and pull. Add a user with `lanyard users add NAME` to turn it on.');
  } else {
    console.warn('');
    console.warn('  !!! WARNING: authentication is OFF (--no-auth) on a network address !!!');
    console.warn('  !!! Anyone who can reach this machine can push, pull and overwrite images. !!!');
    console.warn('');
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
