// The Users view end to end: a real `lanyard serve --auth`, Chromium (via playwright-core)
// logged in with HTTP Basic (the browser's own login, as a colleague on the LAN would), an
// admin managing users through the UI, a pull-only user who sees neither the Users tab nor
// the log, and the desktop app's first-run dialog driven through a stand-in preload bridge.
// Screenshots land in a temp dir (printed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { OPERATION_NAMES } from '../../registry/api/contract';
import { watchPage } from '../helpers/browser';
import { lanyardBin, startLanyard, type LanyardServer } from '../helpers/lanyard';
import { until, waitForOutput } from '../helpers/proc';

const CHROMIUM = process.env.LANYARD_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const VIEWPORT = { width: 1280, height: 820 };
const VIEWER_PASSWORD = 'viewer-password-1';

interface Envelope {
  ok: boolean;
  result?: any;
  error?: { code: string; message: string };
}

function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

describe('Users view in Chromium against lanyard serve --auth', () => {
  let server: LanyardServer;
  let browser: Browser;
  let adminPassword: string;
  let htpasswd: string;
  const contexts: BrowserContext[] = [];
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'lanyard-e2e-users-'));
  const problems: string[] = [];

  const api = async (op: string, args: unknown[], auth?: string): Promise<{ status: number; body: Envelope }> => {
    const res = await fetch(`${server.url}/lanyard/api/${op}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: auth } : {}) },
      body: JSON.stringify({ args }),
    });
    return { status: res.status, body: (await res.json()) as Envelope };
  };
  const asAdmin = (op: string, args: unknown[] = []) => api(op, args, basic('admin', adminPassword));

  /** A logged-in browser tab; failed API answers (401 before the login, 403, 400) are expected, anything else is a problem. */
  async function open(credentials: { username: string; password: string } | null, name: string): Promise<Page> {
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, ...(credentials ? { httpCredentials: credentials } : {}) });
    contexts.push(context);
    const page = await context.newPage();
    watchPage(page, problems, name);
    page.setDefaultTimeout(15_000);
    return page;
  }

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set LANYARD_CHROMIUM)`);
    server = await startLanyard({ args: ['--auth'] });
    adminPassword = (await waitForOutput(server, /Password: (\S+)/))[1];
    htpasswd = path.join(server.dataDir, 'auth', 'htpasswd');
    // a pull-only user, made the way an operator would: with the CLI, next to the running server
    const cli = spawnSync(process.execPath, [lanyardBin, 'users', 'add', 'viewer', '--role', 'pull', '--password-stdin', '--data', server.dataDir], {
      input: VIEWER_PASSWORD + '\n',
      encoding: 'utf8',
    });
    assert.equal(cli.status, 0, `lanyard users add: ${cli.stdout}${cli.stderr}`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.stop();
    console.log(`# screenshots: ${shots}`);
  });

  describe('as the admin', () => {
    let page: Page;
    let devPassword = '';

    before(async () => {
      page = await open({ username: 'admin', password: adminPassword }, 'admin');
    });

    it('shows who is logged in and the Users tab', async () => {
      await page.goto(`${server.url}/`);
      const session = page.getByTestId('session');
      await session.getByText('admin', { exact: true }).first().waitFor();
      assert.equal(await session.locator('.role-pill').textContent(), 'admin');
      await page.getByTestId('registry-url').filter({ hasText: server.url }).waitFor();
      await page.getByRole('link', { name: 'Users', exact: true }).click();
      await page.waitForFunction("location.hash === '#/users'");
      const table = page.getByRole('table', { name: 'Users' });
      await table.locator('tr[data-user="admin"]').waitFor();
      assert.equal(await table.getByLabel('Role of admin').inputValue(), 'admin');
      assert.equal(await table.locator('tr[data-user="viewer"]').getByLabel('Role of viewer').inputValue(), 'pull');
      assert.equal(await page.getByRole('switch', { name: /Anonymous pull/ }).isChecked(), false);
      await page.screenshot({ path: path.join(shots, 'users.png'), fullPage: true });
    });

    it('adds a user with a generated password through the form', async () => {
      const form = page.getByRole('form', { name: 'Add a user' });
      await form.getByLabel('Name').fill('dev');
      await form.getByRole('button', { name: 'Generate' }).click();
      const pw = form.getByLabel('Password', { exact: true });
      devPassword = await pw.inputValue();
      assert.match(devPassword, /^[A-Za-z0-9]{20}$/);
      assert.equal(await pw.getAttribute('type'), 'text', 'a generated password is shown');
      await form.getByLabel('Role').selectOption('pull');
      await form.getByRole('button', { name: 'Add user' }).click();

      const row = page.locator('table.users-table tr[data-user="dev"]');
      await row.waitFor();
      assert.equal(await row.getByLabel('Role of dev').inputValue(), 'pull');
      const note = form.getByRole('status');
      await note.getByText('Added', { exact: false }).waitFor();
      await note.getByText(`docker login -u dev ${server.host}`).waitFor();
      assert.equal(await form.getByLabel('Name').inputValue(), '', 'the form is cleared');
      await page.screenshot({ path: path.join(shots, 'users-added.png'), fullPage: true });

      // the password the form generated is the one the registry accepts
      const who = await api('whoAmI', [], basic('dev', devPassword));
      assert.equal(who.status, 200);
      assert.deepEqual(who.body.result, { authEnabled: true, user: 'dev', role: 'pull', isAdmin: false, anonymousPull: false });
      assert.match(fs.readFileSync(htpasswd, 'utf8'), /^dev:\$2y\$/m);
    });

    it('adds a repository rule and changes the role', async () => {
      const row = page.locator('table.users-table tr[data-user="dev"]');
      await row.getByRole('button', { name: 'Add a repository rule for dev' }).click();
      await row.getByLabel('Repository pattern').fill('team/*');
      await row.getByLabel('Role on matching repositories').selectOption('push');
      await row.getByRole('button', { name: 'Add rule' }).click();
      await row.locator('.rule', { hasText: 'team/*' }).waitFor();
      assert.equal(await row.locator('.rule .role-pill').textContent(), 'push');

      await row.getByLabel('Role of dev').selectOption('push');
      await until('the role change reached the registry', async () => (await asAdmin('listUsers')).body.result.find((u: { name: string }) => u.name === 'dev')?.role === 'push');
      await until('the table shows the new role', async () => (await row.getByLabel('Role of dev').inputValue()) === 'push');

      const rows = await page.locator('table.users-table tr.user-row').evaluateAll((trs) =>
        trs.map((tr) => ({
          name: tr.getAttribute('data-user'),
          role: (tr.querySelector('select') as unknown as { value: string }).value,
          rules: [...tr.querySelectorAll('.rule')].map((r) => r.textContent?.replace(/×$/, '').replace(/\s+/g, ' ').trim()),
        })),
      );
      assert.deepEqual(rows, [
        { name: 'admin', role: 'admin', rules: [] },
        { name: 'dev', role: 'push', rules: ['team/*→push'] },
        { name: 'viewer', role: 'pull', rules: [] },
      ]);
      const dev = (await asAdmin('listUsers')).body.result.find((u: { name: string }) => u.name === 'dev');
      assert.deepEqual(dev, { name: 'dev', role: 'push', repos: { 'team/*': 'push' } });
      assert.ok(fs.readFileSync(htpasswd, 'utf8').includes('dev:'), 'htpasswd holds dev');
      await page.screenshot({ path: path.join(shots, 'users-rule.png'), fullPage: true });
    });

    it('changes a password', async () => {
      const row = page.locator('table.users-table tr[data-user="dev"]');
      await row.getByRole('button', { name: 'Change password' }).click();
      const extra = page.locator('tr[data-user-extra="dev"]');
      await extra.getByLabel('New password for dev', { exact: true }).fill('dev-new-password-2');
      await extra.getByRole('button', { name: 'Save password' }).click();
      await extra.getByText('New password saved for dev').waitFor();
      assert.equal((await api('whoAmI', [], basic('dev', 'dev-new-password-2'))).body.result?.user, 'dev');
      assert.equal((await api('whoAmI', [], basic('dev', devPassword))).status, 401, 'the old password stops working');
    });

    it("shows the server's error inline when the last admin would go", async () => {
      const row = page.locator('table.users-table tr[data-user="admin"]');
      await row.getByRole('button', { name: 'Remove admin' }).click();
      const confirm = page.getByRole('alertdialog', { name: 'Remove admin?' });
      await confirm.getByRole('button', { name: 'Remove admin' }).click();
      const err = page.locator('tr[data-user-extra="admin"]').getByRole('alert');
      await err.getByText(/last admin/).waitFor();
      assert.ok(((await err.textContent()) ?? '').length > 0);
      await page.screenshot({ path: path.join(shots, 'users-last-admin.png'), fullPage: true });
      await confirm.getByRole('button', { name: 'Cancel' }).click();
      assert.equal((await asAdmin('listUsers')).body.result.some((u: { name: string }) => u.name === 'admin'), true);
    });

    it('removes a user after confirmation', async () => {
      const row = page.locator('table.users-table tr[data-user="dev"]');
      await row.getByRole('button', { name: 'Remove dev' }).click();
      const confirm = page.getByRole('alertdialog', { name: 'Remove dev?' });
      await confirm.getByText('They can no longer log in').waitFor();
      await confirm.getByRole('button', { name: 'Remove dev' }).click();
      await row.waitFor({ state: 'detached' });
      assert.ok(!/^dev:/m.test(fs.readFileSync(htpasswd, 'utf8')), 'dev is gone from htpasswd');
      assert.deepEqual((await asAdmin('listUsers')).body.result.map((u: { name: string }) => u.name), ['admin', 'viewer']);
    });

    it('turns anonymous pull on and off', async () => {
      const toggle = page.getByRole('switch', { name: /Anonymous pull/ });
      await toggle.check();
      await until('anonymous pull is on', async () => (await api('listRepositories', [])).status === 200);
      await page.getByText('Anyone on the network may pull').waitFor();
      assert.equal((await asAdmin('whoAmI')).body.result.anonymousPull, true);
      await page.screenshot({ path: path.join(shots, 'users-anonymous-pull.png'), fullPage: true });
      await toggle.uncheck();
      await until('anonymous pull is off', async () => (await api('listRepositories', [])).status === 401);
      await page.getByText('Pulling needs a login').waitFor();
      assert.equal(await toggle.isChecked(), false);
    });

    it('shows logins and user changes in the log, styled apart from requests', async () => {
      await api('whoAmI', [], basic('viewer', 'not-the-password')); // a failed login
      const catalog = await fetch(`${server.url}/v2/_catalog`, { headers: { Authorization: basic('admin', adminPassword) } });
      assert.equal(catalog.status, 200); // and some registry traffic beside it
      await page.getByRole('link', { name: 'Logs', exact: true }).click();
      const table = page.locator('table.log-table');
      await table.locator('tr.auth-row[data-action="user.add"]', { hasText: 'dev' }).first().waitFor();
      await table.locator('tr.auth-row[data-action="user.remove"]', { hasText: 'dev' }).first().waitFor();
      await table.locator('tr.auth-row[data-action="user.rule"]', { hasText: 'team/*' }).first().waitFor();
      const failure = table.locator('tr.auth-row.auth-bad[data-action="login.failure"]', { hasText: 'viewer' }).first();
      await failure.waitFor();
      // never a secret in the log view
      const text = await table.innerText();
      for (const secret of [adminPassword, devPassword, 'dev-new-password-2', VIEWER_PASSWORD]) assert.ok(!text.includes(secret));
      await page.screenshot({ path: path.join(shots, 'logs-auth.png'), fullPage: true });
    });
  });

  describe('as a pull-only user', () => {
    let page: Page;

    before(async () => {
      page = await open({ username: 'viewer', password: VIEWER_PASSWORD }, 'viewer');
    });

    it('sees no Users tab, and who is logged in', async () => {
      await page.goto(`${server.url}/`);
      const session = page.getByTestId('session');
      await session.getByText('viewer', { exact: true }).waitFor();
      assert.equal(await session.locator('.role-pill').textContent(), 'pull');
      await page.getByRole('link', { name: 'Logs', exact: true }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Users', exact: true }).count(), 0);
      await page.goto(`${server.url}/#/users`);
      await page.getByText('Users are managed by admins.').waitFor();
    });

    it('gets a friendly message in Logs instead of an error', async () => {
      await page.getByRole('link', { name: 'Logs', exact: true }).click();
      const msg = page.getByTestId('logs-admin-only');
      await msg.getByRole('heading', { name: 'The activity log is for admins' }).waitFor();
      assert.equal(await page.locator('.note.error').count(), 0);
      await page.screenshot({ path: path.join(shots, 'logs-pull-user.png'), fullPage: true });
    });
  });

  describe('without a login', () => {
    // Headless Chromium cannot show its login dialog (the request would wait for it forever),
    // so take the registry's real 401 answers and drop the challenge header: what the page
    // gets when someone cancels the dialog.
    it('asks to log in rather than showing raw errors', async () => {
      const page = await open(null, 'anonymous');
      await page.route('**/lanyard/api/**', async (route) => {
        const res = await route.fetch();
        const headers = { ...res.headers() };
        delete headers['www-authenticate'];
        await route.fulfill({ response: res, headers });
      });
      await page.goto(`${server.url}/`);
      await page.getByTestId('session').getByText('Not logged in').waitFor();
      const welcome = page.locator('.welcome .card');
      await welcome.getByRole('heading', { name: 'Log in to browse this registry' }).waitFor();
      await welcome.getByRole('button', { name: 'reload the page' }).waitFor();
      await welcome.getByText(`docker login ${server.host}`).waitFor();
      assert.equal(await page.locator('.note.error').count(), 0);
      await page.screenshot({ path: path.join(shots, 'not-logged-in.png'), fullPage: true });

      await page.getByRole('link', { name: 'Logs', exact: true }).click();
      const note = page.locator('.note.warn', { hasText: 'Not logged in.' });
      await note.getByRole('button', { name: 'reload the page' }).waitFor();
      assert.equal(await page.locator('.note.error').count(), 0);
      await page.screenshot({ path: path.join(shots, 'not-logged-in-logs.png'), fullPage: true });
    });
  });

  describe('first run in the desktop app', () => {
    // Electron is not available here: a stand-in for the preload's window.lanyard carries every
    // operation to the HTTP API (logged in as admin) and answers takeInitialAdmin like main/ipc.ts
    // does on a first start: the credentials once, then null.
    it('shows the generated admin password once, with copy buttons and the docker login line', async () => {
      const page = await open({ username: 'admin', password: adminPassword }, 'desktop');
      await page.context().exposeBinding('initialAdminForTest', () => ({ name: 'admin', password: adminPassword }));
      // every operation goes to the HTTP API, except the one this test stands in for
      const forwarded = OPERATION_NAMES.filter((op) => op !== 'takeInitialAdmin');
      await page.addInitScript((ops: string[]) => {
        const w = globalThis as unknown as Record<string, any>;
        w.takeInitialAdminCalls = 0;
        let handedOut = false;
        const bridge: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
        for (const op of ops) {
          bridge[op] = (...args) =>
            fetch(`/lanyard/api/${op}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ args }) }).then((r) => r.json());
        }
        bridge.takeInitialAdmin = async () => {
          w.takeInitialAdminCalls++;
          if (handedOut) return { ok: true, result: null };
          handedOut = true;
          return { ok: true, result: await w.initialAdminForTest() };
        };
        w.lanyard = Object.freeze(bridge);
      }, forwarded);
      await page.goto(`${server.url}/`);
      assert.equal(await page.evaluate('document.documentElement.dataset.transport'), 'ipc');
      const dialog = page.getByRole('dialog', { name: 'Lanyard created the admin user' });
      await dialog.waitFor();
      assert.equal(await dialog.getByTestId('initial-admin-name').textContent(), 'admin');
      assert.equal(await dialog.getByTestId('initial-admin-password').textContent(), adminPassword);
      await dialog.getByText(`docker login ${server.host}`).waitFor();
      await dialog.getByText('Shown only once.').waitFor();
      await dialog.getByTitle('Copy the user name').waitFor();
      await dialog.getByTitle('Copy the password').waitFor();
      await page.screenshot({ path: path.join(shots, 'first-run.png') });

      // Escape must not lose the password by accident
      await page.keyboard.press('Escape');
      assert.equal(await dialog.isVisible(), true);
      await dialog.getByRole('button', { name: 'Hide' }).click();
      assert.doesNotMatch((await dialog.getByTestId('initial-admin-password').textContent()) ?? '', new RegExp(adminPassword));
      await dialog.getByRole('button', { name: 'I have saved the password' }).click();
      await dialog.waitFor({ state: 'hidden' });
      assert.equal(await page.evaluate('window.takeInitialAdminCalls'), 1, 'asked once per start');
      // the desktop owner may manage users too
      await page.getByRole('link', { name: 'Users', exact: true }).waitFor();
    });
  });

  it('ran without page errors, console errors or CSP violations', () => {
    assert.deepEqual(problems, []);
  });
});
