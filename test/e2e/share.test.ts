// The Share view end to end: a real `lanyard serve --tls` browsed over HTTPS in Chromium (via
// playwright-core) — the CA fingerprint must be the one in <dataDir>/tls/ca.pem, the pinned
// join command must carry it, the ca.crt link must download that CA — then the desktop app's
// "This machine" card through a stand-in preload bridge whose installTrust/uninstallTrust
// answer canned results (nothing is ever installed on this machine), and a plain-HTTP
// `lanyard serve` that explains how to serve HTTPS. Screenshots land in a temp dir (printed).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { watchPage } from '../helpers/browser';
import { startLanyard, type LanyardServer } from '../helpers/lanyard';

const CHROMIUM = process.env.LANYARD_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const VIEWPORT = { width: 1280, height: 820 };

interface TlsInfo {
  https: boolean;
  mode: string | null;
  caFingerprint: string | null;
  names: string[];
  notAfter: string | null;
  addresses: string[];
  joinCommand: string | null;
}

describe('Share view in Chromium', () => {
  let tlsServer: LanyardServer;
  let plainServer: LanyardServer | undefined;
  let browser: Browser;
  let fingerprint: string; // "AB:CD:…", from the CA file itself
  let tls: TlsInfo;
  const contexts: BrowserContext[] = [];
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'lanyard-e2e-share-'));
  const problems: string[] = [];

  async function open(name: string, opts: { https?: boolean } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, ignoreHTTPSErrors: opts.https ?? false, acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    watchPage(page, problems, name); // refused API calls (a 403 the test asks for) are expected
    page.setDefaultTimeout(15_000);
    return page;
  }

  /** The whole page: the UI scrolls inside <main>, so grow the viewport to its content first. */
  async function shot(page: Page, name: string): Promise<void> {
    const extra = (await page.evaluate("(() => { const m = document.querySelector('main'); return m ? m.scrollHeight - m.clientHeight : 0; })()")) as number;
    if (extra > 0) await page.setViewportSize({ width: VIEWPORT.width, height: VIEWPORT.height + extra });
    await page.screenshot({ path: path.join(shots, name) });
    if (extra > 0) await page.setViewportSize(VIEWPORT);
  }

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set LANYARD_CHROMIUM)`);
    // on all interfaces (in this test without users, so no login dialog), as a LAN registry
    // runs; the browser still talks to it over loopback only
    const started = await startLanyard({ addr: '0.0.0.0:0', args: ['--tls', '--no-auth'] });
    tlsServer = { ...started, url: `https://127.0.0.1:${started.port}`, host: `127.0.0.1:${started.port}` };
    assert.match(tlsServer.url, /^https:\/\//);
    fingerprint = new crypto.X509Certificate(fs.readFileSync(path.join(tlsServer.dataDir, 'tls', 'ca.pem'))).fingerprint256;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await tlsServer?.stop();
    await plainServer?.stop();
    console.log(`# screenshots: ${shots}`);
  });

  describe('over HTTPS (lanyard serve --tls), as anyone', () => {
    let page: Page;

    before(async () => {
      page = await open('https', { https: true });
      const res = await page.context().request.post(`${tlsServer.url}/lanyard/api/getTls`, { data: { args: [] } });
      assert.equal(res.status(), 200);
      tls = (await res.json()).result as TlsInfo;
      assert.equal(tls.https, true);
      assert.equal(tls.caFingerprint, fingerprint);
      assert.ok(tls.joinCommand, 'a join command (the certificate names a non-loopback address)');
    });

    it('shows the CA fingerprint from ca.pem, the addresses and the pinned join command', async () => {
      await page.goto(`${tlsServer.url}/#/share`);
      await page.getByRole('link', { name: 'Share', exact: true }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Share', exact: true }).getAttribute('class'), 'active');
      await page.getByTestId('https-state').waitFor();
      const shown = page.getByTestId('ca-fingerprint');
      assert.equal((await shown.textContent())?.trim(), fingerprint);
      assert.match(await shown.evaluate((el) => (globalThis as any).getComputedStyle(el).fontFamily as string), /mono/i, 'the fingerprint is monospace');

      const join = page.getByTestId('join-command');
      const joinText = ((await join.textContent()) ?? '').replace(/^\$ /, '');
      assert.equal(joinText, tls.joinCommand);
      const hex = fingerprint.replace(/:/g, '').toLowerCase();
      assert.ok(joinText.includes(hex), 'the join command pins the fingerprint');
      assert.ok(joinText.includes(`https://${tls.addresses[0]}/lanyard/ca.crt`));
      const card = page.getByRole('region', { name: 'Join from another machine' });
      await card.getByText('checks the fingerprint before installing anything').waitFor();
      await card.getByText('sudo', { exact: true }).waitFor();

      const addresses = card.getByRole('list', { name: 'Addresses for other machines' });
      assert.deepEqual(await addresses.locator('li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-address'))), tls.addresses);
      for (const a of tls.addresses) await addresses.locator(`li[data-address="${a}"]`).getByText(`docker login ${a}`).waitFor();

      await shot(page, 'share-https.png');
      // the whole command on demand
      const collapsed = (await join.boundingBox())!.height;
      await card.getByRole('button', { name: 'Show all' }).click();
      await card.getByRole('button', { name: 'Show less' }).waitFor();
      assert.ok((await join.boundingBox())!.height > collapsed, 'Show all shows more of the command');

      // the names and the "This machine" card: an anonymous caller is no admin
      for (const n of tls.names) await page.getByRole('list', { name: 'Names in the certificate' }).getByText(n, { exact: true }).waitFor();
      assert.equal(await page.getByTestId('this-machine').count(), 0);
      await shot(page, 'share-https-expanded.png');
    });

    it('copies the fingerprint and the join command', async () => {
      await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: tlsServer.url });
      const copyFp = page.getByTitle("Copy the CA's SHA-256 fingerprint");
      await copyFp.click();
      await copyFp.getByText('Copied').waitFor();
      assert.equal(await page.evaluate('navigator.clipboard.readText()'), fingerprint);
      await page.getByRole('button', { name: 'Copy command' }).click();
      assert.equal(await page.evaluate('navigator.clipboard.readText()'), tls.joinCommand);
    });

    it('downloads the CA from the ca.crt link', async () => {
      const link = page.getByRole('link', { name: 'Download lanyard-ca.crt' });
      assert.equal(await link.getAttribute('href'), '/lanyard/ca.crt');
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      assert.equal(download.suggestedFilename(), 'lanyard-ca.crt');
      const file = await download.path();
      const pem = fs.readFileSync(file, 'utf8');
      assert.equal(new crypto.X509Certificate(pem).fingerprint256, fingerprint);
      assert.equal(pem.trim(), fs.readFileSync(path.join(tlsServer.dataDir, 'tls', 'ca.pem'), 'utf8').trim());
    });
  });

  describe('over HTTPS, as an admin in a browser', () => {
    // An open registry has no admins over HTTP: answer whoAmI as for one, so the card shows;
    // the registry itself still refuses trustStatus (no users), which the card must show as
    // the rest of the UI shows errors: code and message.
    it('shows the trust CLI commands instead of buttons, and the refusal as code + message', async () => {
      const page = await open('http-admin', { https: true });
      await page.route('**/lanyard/api/whoAmI', (route) =>
        route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({ ok: true, result: { authEnabled: true, user: 'admin', role: 'admin', isAdmin: true, anonymousPull: false } }),
        }),
      );
      await page.goto(`${tlsServer.url}/#/share`);
      const card = page.getByTestId('this-machine');
      await card.getByText('Trust is installed on the registry machine itself', { exact: false }).waitFor();
      await card.getByText(new RegExp(`lanyard trust install --data ${tlsServer.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)).waitFor();
      await card.getByText(/lanyard trust status( |$)/).waitFor();
      assert.equal(await card.getByRole('button', { name: 'Trust on this machine' }).count(), 0);
      assert.equal(await card.getByRole('button', { name: 'Remove trust' }).count(), 0);
      const err = card.locator('.note.error');
      await err.locator('.err-badge', { hasText: 'DENIED' }).waitFor();
      await err.getByText('this registry runs without users', { exact: false }).waitFor();
      await shot(page, 'share-http-admin.png');
    });
  });

  describe('in the desktop app (stand-in window.lanyard)', () => {
    // Electron is not available here: a stand-in for the preload's window.lanyard carries the
    // read-only operations to the HTTP API and answers as main/ipc.ts would for the desktop
    // owner (an admin), with canned trust results. installTrust/uninstallTrust never reach
    // the registry: nothing is installed on this machine.
    it('trusts and untrusts through the buttons, showing each target’s outcome', async () => {
      const page = await open('desktop', { https: true });
      await page.addInitScript(() => {
        const w = globalThis as unknown as Record<string, any>;
        w.trustCalls = { trustStatus: 0, installTrust: 0, uninstallTrust: 0 };
        let installed = false;
        const ok = (result: unknown) => ({ ok: true, result });
        const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
        const targets = ['System trust store (Debian/Ubuntu/Alpine)', 'Docker: 192.0.2.2:5000', 'podman/buildah/skopeo: 192.0.2.2:5000'];
        const bridge: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
        for (const op of ['getStatus', 'listRepositories', 'listTags', 'getManifest', 'recentEvents', 'getTls']) {
          bridge[op] = (...args) =>
            fetch(`/lanyard/api/${op}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ args }) }).then((r) => r.json());
        }
        bridge.whoAmI = async () => ok({ authEnabled: false, user: null, role: null, isAdmin: true, anonymousPull: false });
        bridge.takeInitialAdmin = async () => ok(null);
        bridge.trustStatus = async () => {
          w.trustCalls.trustStatus++;
          return ok([
            ...targets.map((label) => ({ label, state: installed ? 'installed' : 'missing', detail: installed ? `/etc/somewhere/${label.length}.crt` : 'does not exist' })),
            { label: 'TLS handshake with https://localhost:5000', state: installed ? 'installed' : 'unknown', detail: installed ? 'trusted by the system store' : 'curl exit 7' },
          ]);
        };
        bridge.installTrust = async () => {
          w.trustCalls.installTrust++;
          await sleep(300);
          if (w.trustCalls.installTrust > 1) return { ok: false, error: { code: 'UNSUPPORTED', message: 'the elevation prompt was dismissed' } };
          installed = true;
          return ok({
            ok: true,
            targets: [
              ...targets.map((label) => ({ label, state: 'ok', detail: '' })),
              { label: 'NSS database /home/u/.pki/nssdb', state: 'not-run', detail: 'certutil is not installed' },
            ],
          });
        };
        bridge.uninstallTrust = async () => {
          w.trustCalls.uninstallTrust++;
          await sleep(300);
          installed = false;
          return ok({
            ok: false,
            targets: [
              { label: targets[0], state: 'ok', detail: '' },
              { label: targets[1], state: 'failed', detail: 'rm: cannot remove: Read-only file system' },
              { label: targets[2], state: 'not-run', detail: 'an earlier step failed' },
            ],
          });
        };
        w.lanyard = Object.freeze(bridge);
      });
      await page.goto(`${tlsServer.url}/#/share`);
      assert.equal(await page.evaluate('document.documentElement.dataset.transport'), 'ipc');
      const card = page.getByTestId('this-machine');
      const status = card.getByRole('table', { name: 'Trust on this machine' });
      await status.locator('tr[data-state="missing"]').first().waitFor();
      assert.equal(await status.locator('tr[data-state="missing"]').count(), 3);
      await status.locator('tr[data-state="unknown"]', { hasText: 'TLS handshake' }).waitFor();
      await card.getByTestId('trust-summary').getByText('This machine does not trust the CA yet.').waitFor();
      // the desktop app has no ca.crt link of its own (its page is not served by the registry)
      assert.equal(await page.getByRole('link', { name: 'Download lanyard-ca.crt' }).count(), 0);
      await page.getByText(`https://${tls.addresses[0]}/lanyard/ca.crt`, { exact: true }).first().waitFor();
      assert.equal(await card.getByText('lanyard trust install', { exact: false }).count(), 0, 'no CLI hint in the desktop app');
      await shot(page, 'share-desktop.png');

      // install
      const install = card.getByRole('button', { name: 'Trust on this machine' });
      await install.click();
      await card.getByRole('button', { name: 'Installing…' }).waitFor();
      const outcome = card.getByTestId('trust-outcome');
      await outcome.getByText('Trusted on this machine.').waitFor();
      assert.equal(await outcome.getAttribute('data-action'), 'install');
      const rows = await outcome.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-target'), tr.getAttribute('data-state')]));
      assert.deepEqual(rows, [
        ['System trust store (Debian/Ubuntu/Alpine)', 'ok'],
        ['Docker: 192.0.2.2:5000', 'ok'],
        ['podman/buildah/skopeo: 192.0.2.2:5000', 'ok'],
        ['NSS database /home/u/.pki/nssdb', 'not-run'],
      ]);
      await outcome.locator('tr[data-state="not-run"]').getByText('certutil is not installed').waitFor();
      // the status is checked again afterwards
      await card.getByTestId('trust-summary').getByText('This machine trusts the CA everywhere Lanyard looks.').waitFor();
      assert.equal(await status.locator('tr[data-state="installed"]').count(), 4);
      await shot(page, 'share-desktop-installed.png');

      // remove: one target fails, with its reason
      await card.getByRole('button', { name: 'Remove trust' }).click();
      await card.getByRole('button', { name: 'Removing…' }).waitFor();
      await outcome.getByText('Trust was not removed everywhere.').waitFor();
      assert.equal(await outcome.getAttribute('data-action'), 'uninstall');
      assert.match((await outcome.getAttribute('class')) ?? '', /failed/);
      await outcome.locator('tr[data-state="failed"]', { hasText: 'Docker: 192.0.2.2:5000' }).getByText('Read-only file system', { exact: false }).waitFor();
      await outcome.locator('tr[data-state="not-run"]').getByText('an earlier step failed').waitFor();
      await outcome.locator('tr[data-state="ok"]', { hasText: 'System trust store' }).waitFor();
      await card.getByTestId('trust-summary').getByText('This machine does not trust the CA yet.').waitFor();
      await shot(page, 'share-desktop-removed.png');

      // a refused call: shown as code + message, right there
      await install.click();
      const err = card.getByRole('alert');
      await err.locator('.err-badge', { hasText: 'UNSUPPORTED' }).waitFor();
      await err.getByText('the elevation prompt was dismissed').waitFor();
      assert.equal(await outcome.count(), 0, 'no stale outcome next to the error');
      await shot(page, 'share-desktop-error.png');

      // refresh asks again
      const before = (await page.evaluate('window.trustCalls.trustStatus')) as number;
      await card.getByRole('button', { name: 'Refresh' }).click();
      await page.waitForFunction((n) => (globalThis as any).trustCalls.trustStatus > n, before);
      assert.deepEqual(await page.evaluate('({ i: window.trustCalls.installTrust, u: window.trustCalls.uninstallTrust })'), { i: 2, u: 1 });
    });
  });

  describe('over plain HTTP (lanyard serve)', () => {
    it('explains that the registry runs plain HTTP on loopback, and how to serve HTTPS', async () => {
      plainServer = await startLanyard();
      assert.match(plainServer.url, /^http:\/\//);
      const page = await open('plain');
      await page.goto(`${plainServer.url}/#/share`);
      const card = page.getByTestId('plain-http');
      await card.getByText('plain HTTP on loopback').waitFor();
      await card.getByText(plainServer.host, { exact: true }).waitFor();
      await card.getByText('lanyard serve --addr 0.0.0.0:5000').waitFor();
      await card.locator('code', { hasText: 'lanyard serve --tls' }).waitFor();
      assert.equal(await page.getByTestId('ca-fingerprint').count(), 0);
      assert.equal(await page.getByTestId('join-command').count(), 0);
      assert.equal(await page.getByRole('link', { name: 'Download lanyard-ca.crt' }).count(), 0);
      await shot(page, 'share-plain-http.png');
    });
  });

  it('ran without page errors, console errors or CSP violations', () => {
    assert.deepEqual(problems, []);
  });
});
