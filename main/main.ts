// Lanyard's Electron shell: lifecycle, single-instance lock, the registry, the window, the
// tray and the IPC transport. Everything the app does lives in registry/ (the core and the
// API service) and renderer/ (the UI); this file only wires them together.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, dialog, nativeImage, session, type BrowserWindow, type Tray } from 'electron';
import { ApiService } from '../registry/api/service';
import { resolveServeConfig } from '../registry/config';
import { startRegistry, type RunningRegistry } from '../registry/server';
import { APP_COLOR, TEMPLATE_COLOR, iconPng } from './icon';
import { registerIpc } from './ipc';
import { sudoPromptRunner } from './elevate';
import { displayUrl } from './security';
import { createTray } from './tray';
import { createMainWindow, denyPermissions, hardenContents } from './window';

// dist/main/main.js → dist/renderer/index.html, dist/main/preload.js
const INDEX_HTML = path.join(__dirname, '..', 'renderer', 'index.html');
const PRELOAD = path.join(__dirname, 'preload.js');

let registry: RunningRegistry | null = null;
let win: BrowserWindow | null = null;
let tray: Tray | null = null;
let quitting = false;

function showWindow(): void {
  if (!registry) return; // still starting
  if (!win || win.isDestroyed()) {
    win = createMainWindow({ indexHtml: INDEX_HTML, preload: PRELOAD, icon: appIcon(64), devTools: !app.isPackaged });
    win.on('close', (e) => {
      // closing the window leaves the registry running in the tray; Quit is in the tray menu
      if (!quitting && tray) {
        e.preventDefault();
        win?.hide();
      }
    });
    win.on('closed', () => (win = null));
    return;
  }
  if (win.isMinimized()) win.restore();
  win.show();
  win.focus();
}

function appIcon(size: number): Electron.NativeImage {
  return nativeImage.createFromBuffer(iconPng(size), { scaleFactor: 1 });
}

function trayIcon(): Electron.NativeImage {
  if (process.platform === 'darwin') {
    const img = nativeImage.createFromBuffer(iconPng(16, { color: TEMPLATE_COLOR }), { scaleFactor: 1 });
    img.addRepresentation({ scaleFactor: 2, buffer: iconPng(32, { color: TEMPLATE_COLOR }) });
    img.setTemplateImage(true);
    return img;
  }
  return nativeImage.createFromBuffer(iconPng(process.platform === 'win32' ? 16 : 22, { color: APP_COLOR }), { scaleFactor: 1 });
}

async function start(): Promise<void> {
  denyPermissions(session.defaultSession);
  const cfg = resolveServeConfig({}, process.env);
  registry = await startRegistry(cfg, { desktop: true });
  const url = displayUrl(registry.url);
  registerIpc({
    service: ApiService.for({
      store: registry.store,
      bus: registry.bus,
      users: registry.users,
      settings: registry.settings,
      access: registry.guard ?? undefined,
      initialAdmin: registry.initialAdmin,
      tls: registry.tls,
      port: () => registry?.port ?? 0,
      bindHost: cfg.host,
      elevatedRunner: sudoPromptRunner,
    }),
    appUrl: pathToFileURL(INDEX_HTML).href,
    registryUrl: () => url,
  });
  tray = createTray({ icon: trayIcon(), registryUrl: url, onOpen: showWindow, onQuit: () => app.quit() });
  showWindow();
}

function main(): void {
  if (!app.requestSingleInstanceLock()) {
    app.quit(); // another Lanyard is running; it shows its window (second-instance)
    return;
  }
  app.on('second-instance', () => showWindow());
  app.on('activate', () => showWindow()); // macOS: dock icon clicked
  app.on('web-contents-created', (_e, contents) => hardenContents(contents));
  app.on('window-all-closed', () => {
    /* keep running: the tray owns the app's lifetime */
  });
  app.on('before-quit', () => (quitting = true));
  app.on('will-quit', (e) => {
    // stop the registry cleanly (flushes the event log) before the process ends
    const r = registry;
    if (!r) return;
    registry = null;
    e.preventDefault();
    r.close().finally(() => app.quit());
  });
  app.whenReady().then(start, fail).catch(fail);
}

function fail(err: unknown): void {
  const msg = err instanceof Error ? err.message : String(err);
  dialog.showErrorBox('Lanyard could not start', `${msg}\n\nIs another registry already using the port? Set REGISTRY_HTTP_ADDR to choose another address.`);
  app.exit(1);
}

main();
