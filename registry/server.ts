// Start and stop a registry: storage, event bus + JSON-lines log, Koa app, HTTP server.
// Used by `lanyard serve` and by the Electron main process alike.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { EventBus, nowIso } from './events/bus';
import { JsonlLog } from './events/log';
import { createApp } from './http/app';
import { RegistryStore } from './storage/store';
import { forgetServer, recordServer } from './storage/serverlock';
import { authPaths, isLoopback, tlsEnabled, type ServeConfig } from './config';
import { TlsStore, type TlsMaterial, type TlsWatcher } from './tls/store';
import { advertise, type Advertisement } from './net/mdns';
import { AccessGuard } from './auth/guard';
import { UserStore } from './auth/users';
import { randomPassword } from './auth/htpasswd';
import { SettingsStore } from './settings';

export interface RunningRegistry {
  url: string;
  host: string;
  port: number;
  store: RegistryStore;
  bus: EventBus;
  settings: SettingsStore;
  users: UserStore;
  /** null when the registry runs open */
  guard: AccessGuard | null;
  /** set once, when this start created the first admin: show it to the user, then forget it */
  initialAdmin: { name: string; password: string } | null;
  /** the certificate being served (null: plain HTTP); follows re-issues */
  tls(): TlsMaterial | null;
  server: http.Server | https.Server;
  close(): Promise<void>;
}

export interface StartOptions {
  /** the desktop app: auth is on even on loopback */
  desktop?: boolean;
}

/** Auth is on when asked, beyond loopback, in the desktop app, or whenever users exist. */
export function authEnabled(cfg: ServeConfig, users: UserStore, opts: StartOptions = {}): boolean {
  if (cfg.auth.mode !== 'auto') return cfg.auth.mode === 'on';
  return !isLoopback(cfg.host) || !!opts.desktop || users.hasUsers();
}

export async function startRegistry(cfg: ServeConfig, opts: StartOptions = {}): Promise<RunningRegistry> {
  const store = new RegistryStore(cfg.dataDir, { deleteEnabled: cfg.deleteEnabled });
  await store.init();
  const bus = new EventBus();
  const log = new JsonlLog(store.paths.logsDir()).attach(bus);
  const settings = new SettingsStore(cfg.dataDir);
  if (cfg.auth.anonymousPull !== undefined) settings.override({ anonymousPull: cfg.auth.anonymousPull });
  const paths = authPaths(cfg.dataDir, cfg.auth.htpasswd);
  const users = new UserStore(paths.htpasswd);
  let guard: AccessGuard | null = null;
  let initialAdmin: { name: string; password: string } | null = null;
  if (authEnabled(cfg, users, opts)) {
    initialAdmin = await users.ensureInitialAdmin(randomPassword);
    if (initialAdmin) bus.emit({ type: 'auth', time: nowIso(), action: 'user.add', user: initialAdmin.name, detail: { role: 'admin', initial: true }, by: 'lanyard' });
    guard = new AccessGuard({ users, settings, bus, realm: cfg.auth.realm, tokenKeyFile: paths.tokenKey });
  }
  let material: TlsMaterial | null = null;
  let tlsStore: TlsStore | null = null;
  if (tlsEnabled(cfg)) {
    tlsStore = new TlsStore(cfg.dataDir, { provided: cfg.tls.provided, discover: { extra: cfg.tls.extraNames } });
    material = await tlsStore.loadOrCreate();
  }
  const app = createApp({
    store,
    bus,
    access: guard ?? undefined,
    guard: guard ?? undefined,
    users,
    settings,
    initialAdmin: opts.desktop ? initialAdmin : null,
    tls: () => material,
    port: () => listeningPort,
    bindHost: cfg.host,
  });
  let listeningPort = cfg.port;
  const serverOptions = {
    requestTimeout: 0, // a large layer over a slow link may take long; headersTimeout still guards idle sockets
    headersTimeout: 60_000,
    keepAliveTimeout: 65_000,
    highWaterMark: 1024 * 1024,
  };
  const server = material
    ? https.createServer({ ...serverOptions, cert: material.cert, key: material.key, minVersion: 'TLSv1.2' }, app.callback())
    : http.createServer(serverOptions, app.callback());
  let watcher: TlsWatcher | null = null;
  if (tlsStore && material) {
    // new LAN address or a leaf close to expiry: re-issue from the same CA and swap it in
    // for new connections; open connections keep going
    watcher = tlsStore.watchAddresses(
      30_000,
      (m) => {
        material = m;
        (server as https.Server).setSecureContext({ cert: m.cert, key: m.key, minVersion: 'TLSv1.2' });
        bus.emit({ type: 'server', time: nowIso(), action: 'certificate', detail: { reason: m.reason, sans: [...m.sans.dnsNames, ...m.sans.ips] } });
      },
      (err) => process.emitWarning(`lanyard: certificate check failed: ${err instanceof Error ? err.message : err}`),
    );
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  listeningPort = addr.port;
  const urlHost = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = `${material ? 'https' : 'http'}://${urlHost}:${addr.port}`;
  let mdns: Advertisement | null = null;
  if (cfg.mdns && !isLoopback(cfg.host)) {
    try {
      mdns = advertise({ port: addr.port, tls: material !== null, caFingerprint: material?.caFingerprint });
    } catch (e) {
      process.emitWarning(`lanyard: mDNS advertisement failed: ${e instanceof Error ? e.message : e}`);
    }
  }
  bus.emit({ type: 'server', time: nowIso(), action: 'start', detail: { url, dataDir: cfg.dataDir, deleteEnabled: cfg.deleteEnabled, auth: guard !== null, mdns: mdns !== null } });
  await recordServer(store.paths, url);
  const purger = cfg.uploadPurging?.enabled ? startUploadPurging(store, bus, cfg.uploadPurging.ageMs, cfg.uploadPurging.intervalMs) : null;
  let closing: Promise<void> | null = null;
  return {
    url,
    host: addr.address,
    port: addr.port,
    store,
    bus,
    settings,
    users,
    guard,
    initialAdmin,
    tls: () => material,
    server,
    close() {
      closing ??= (async () => {
        watcher?.stop();
        await purger?.stop();
        await mdns?.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // give running transfers a moment, then cut them (uploads resume from disk)
          setTimeout(() => server.closeAllConnections(), 5_000).unref();
        });
        forgetServer(store.paths);
        bus.emit({ type: 'server', time: nowIso(), action: 'stop', detail: { url } });
        await log.close();
      })();
      return closing;
    },
  };
}

/**
 * Remove abandoned uploads once at start-up and then every `intervalMs`, like registry:2's
 * upload purging. Runs in the background; a failure is reported as an event, never fatal.
 */
function startUploadPurging(store: RegistryStore, bus: EventBus, ageMs: number, intervalMs: number): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  const run = () => {
    running ??= store
      .purgeStaleUploads(ageMs)
      .then(
        (removed) => {
          if (removed.length) bus.emit({ type: 'server', time: nowIso(), action: 'uploads.purged', detail: { count: removed.length, uploads: removed.slice(0, 100) } });
        },
        (e: unknown) => bus.emit({ type: 'server', time: nowIso(), action: 'uploads.purged', detail: { error: e instanceof Error ? e.message : String(e) } }),
      )
      .finally(() => {
        running = null;
      });
  };
  const first = setTimeout(run, 0);
  const timer = setInterval(run, Math.min(intervalMs, 2 ** 31 - 1));
  first.unref();
  timer.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
