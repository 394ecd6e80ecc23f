// mDNS: beyond loopback the registry advertises itself (_lanyard._tcp) so other machines can
// find it; --no-mdns keeps it quiet. Multicast stays inside a network namespace of our own.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLanyard, repoRoot, type LanyardServer } from '../helpers/lanyard';
import { createNetns, runCmd, showCmd, type Netns } from '../helpers/netns';
import { tempDir } from '../helpers/proc';

/** Browse for _lanyard._tcp inside the namespace for a few seconds; returns what was found. */
async function browse(ns: Netns, seconds: number): Promise<Array<{ name: string; port: number; txt: Record<string, string> }>> {
  const script = `
    const { Bonjour } = require(${JSON.stringify(path.join(repoRoot, 'node_modules', 'bonjour-service'))});
    const b = new Bonjour();
    const found = [];
    b.find({ type: 'lanyard' }, (s) => found.push({ name: s.name, port: s.port, txt: s.txt }));
    setTimeout(() => { console.log(JSON.stringify(found)); b.destroy(); process.exit(0); }, ${seconds * 1000});
  `;
  const r = await runCmd(ns.wrap[0], [...ns.wrap.slice(1), process.execPath, '-e', script], { timeoutMs: (seconds + 10) * 1000 });
  assert.equal(r.code, 0, showCmd('mDNS browse', r));
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]');
}

describe('mDNS advertisement (network namespace)', () => {
  let ns: Netns;
  const servers: LanyardServer[] = [];
  const dirs: string[] = [];

  before(async () => {
    ns = await createNetns();
    // multicast needs a route in the namespace (it has no default route)
    const r = await runCmd('ip', ['netns', 'exec', ns.name, 'ip', 'route', 'add', '224.0.0.0/4', 'dev', ns.nsIf]);
    assert.equal(r.code, 0, showCmd('multicast route', r));
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await ns?.destroy();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const start = async (extra: string[], port: number) => {
    const dataDir = tempDir('lanyard-mdns');
    dirs.push(dataDir);
    const s = await startLanyard({ dataDir, wrap: ns.wrap, addr: `0.0.0.0:${port}`, args: ['--no-auth', ...extra], env: { LANYARD_MDNS: '1' } });
    servers.push(s);
    return s;
  };

  it('advertises _lanyard._tcp with the port and the CA fingerprint', async () => {
    const s = await start([], 5447);
    const found = await browse(ns, 4);
    const mine = found.find((f) => f.port === 5447);
    assert.ok(mine, `no _lanyard._tcp service on port 5447 among ${JSON.stringify(found)}`);
    assert.equal(mine.txt.tls, '1');
    assert.match(mine.txt.ca ?? '', /^[0-9a-f]{64}$/);
    assert.equal(mine.txt.path, '/v2/');
    await s.stop();
  });

  it('stays quiet with --no-mdns', async () => {
    await start(['--no-mdns'], 5448);
    const found = await browse(ns, 3);
    assert.equal(found.find((f) => f.port === 5448), undefined, JSON.stringify(found));
  });
});
