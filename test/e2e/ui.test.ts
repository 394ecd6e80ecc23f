// The UI end to end: a real `lanyard serve`, an image pushed with plain HTTP requests, and
// Chromium (via playwright-core) browsing the UI that serve hosts at `/` — repositories,
// tags, manifest details and the request log. Screenshots land in a temp dir (printed).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { watchPage } from '../helpers/browser';
import { startLanyard, type LanyardServer } from '../helpers/lanyard';

const CHROMIUM = process.env.LANYARD_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const REPO = 'e2e/hello-world';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function digestOf(b: Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
}

async function pushBlob(base: string, repo: string, body: Buffer): Promise<string> {
  const digest = digestOf(body);
  const res = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) },
    body,
  });
  assert.equal(res.status, 201, `blob upload: ${res.status} ${await res.text()}`);
  return digest;
}

async function putManifest(base: string, repo: string, tag: string, body: Buffer): Promise<string> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body });
  assert.equal(res.status, 201, `manifest put: ${res.status} ${await res.text()}`);
  return res.headers.get('docker-content-digest') ?? '';
}

interface Pushed {
  digest: string;
  layers: { digest: string; size: number }[];
  configDigest: string;
}

/** A small two-layer image, tagged v1 and latest. */
async function pushImage(base: string): Promise<Pushed> {
  const layerBodies = [zlib.gzipSync(Buffer.from('hello from lanyard\n'.repeat(200))), zlib.gzipSync(crypto.randomBytes(3000))];
  const layers = [];
  for (const b of layerBodies) layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await pushBlob(base, REPO, b), size: b.length });
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/hello'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }),
  );
  const configDigest = await pushBlob(base, REPO, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers,
    }),
  );
  const digest = await putManifest(base, REPO, 'v1', manifest);
  assert.equal(digest, digestOf(manifest));
  assert.equal(await putManifest(base, REPO, 'latest', manifest), digest);
  return { digest, layers, configDigest };
}

describe('UI in Chromium against lanyard serve', () => {
  let server: LanyardServer;
  let browser: Browser;
  let page: Page;
  let pushed: Pushed;
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'lanyard-e2e-'));
  const problems: string[] = [];

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set LANYARD_CHROMIUM)`);
    server = await startLanyard();
    pushed = await pushImage(server.url);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, deviceScaleFactor: 1 });
    page = await context.newPage();
    watchPage(page, problems, '', false);
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    console.log(`# screenshots: ${shots}`);
  });

  it('serves the UI with a strict CSP and talks to the API over HTTP', async () => {
    const res = await page.goto(`${server.url}/`);
    assert.equal(res?.status(), 200);
    const csp = res?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await page.getByText('Lanyard', { exact: true }).waitFor();
    assert.equal(await page.evaluate('document.documentElement.dataset.transport'), 'http');
    assert.equal(await page.evaluate("'lanyard' in window"), false);
    await page.getByTestId('registry-url').filter({ hasText: server.url }).waitFor();
    // the push hint carries this registry's address
    await page.locator('.push-hint.compact').getByText(`docker push ${server.host}/`).waitFor();
    await page.getByRole('heading', { name: 'Pick a repository' }).waitFor();
    await page.screenshot({ path: path.join(shots, 'welcome.png') });
  });

  it('lists the repository, its tags, and the manifest details', async () => {
    const sidebar = page.getByRole('complementary', { name: 'Repositories' });
    const repoLink = sidebar.getByRole('link', { name: new RegExp(REPO) });
    await repoLink.waitFor();
    assert.match((await repoLink.textContent()) ?? '', /2 tags/);
    await repoLink.click();
    await page.getByRole('heading', { level: 1, name: REPO }).waitFor();

    const tags = page.locator('.tag-list a');
    await tags.nth(1).waitFor();
    assert.deepEqual(await page.locator('.tag-list .tag-name').allTextContents(), ['latest', 'v1']);

    await tags.filter({ hasText: 'v1' }).click();
    await page.waitForFunction("location.hash.endsWith('/v1')");
    const digest = page.getByTestId('manifest-digest');
    await digest.filter({ hasText: pushed.digest }).waitFor();
    const panel = page.getByRole('article', { name: 'Manifest details' });
    await panel.getByText(OCI_MANIFEST, { exact: true }).waitFor();
    assert.equal(await panel.locator('table.layers tbody tr').count(), 2);
    for (const l of pushed.layers) await panel.locator(`td[title="${l.digest}"]`).waitFor();
    await panel.locator(`td[title="${pushed.configDigest}"]`).waitFor();
    await panel.getByText(`docker pull ${server.host}/${REPO}:v1`).waitFor();
    await page.screenshot({ path: path.join(shots, 'repositories.png'), fullPage: true });
  });

  it('shows recent requests in the Logs view, newest first', async () => {
    await page.getByRole('link', { name: 'Logs', exact: true }).click();
    const rows = page.locator('table.log-table tbody tr');
    await rows.first().waitFor();
    const text = await page.locator('table.log-table tbody').innerText();
    assert.match(text, new RegExp(`PUT\\s+/v2/${REPO}/manifests/v1\\s+201`));
    assert.match(text, new RegExp(`PUT\\s+/v2/${REPO}/manifests/latest\\s+201`));
    assert.match(text, new RegExp(`POST\\s+/v2/${REPO}/blobs/uploads/\\s+201`));
    // "registry traffic only" (the default) hides the UI's own API calls
    assert.doesNotMatch(text, /\/lanyard\/api\//);
    const paths = await page.locator('table.log-table td.path').allTextContents();
    assert.ok(paths.indexOf(`/v2/${REPO}/manifests/latest`) < paths.indexOf(`/v2/${REPO}/manifests/v1`), 'newest first');
    await page.screenshot({ path: path.join(shots, 'logs.png'), fullPage: true });

    await page.getByLabel('Registry traffic only').uncheck();
    await page.locator('table.log-table td.path', { hasText: '/lanyard/api/' }).first().waitFor();
  });

  it('ran without console errors or CSP violations', () => {
    assert.deepEqual(problems, []);
  });
});
