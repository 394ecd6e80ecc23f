// Start and stop a registry: storage, event bus + JSON-lines log, Koa app, HTTP server.
// Used by `lanyard serve` and by the Electron main process alike.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBus, nowIso } from './events/bus';
import { JsonlLog } from './events/log';
import { createApp } from './http/app';
import { RegistryStore } from './storage/store';
import type { ServeConfig } from './config';

export interface RunningRegistry {
  url: string;
  host: string;
  port: number;
  store: RegistryStore;
  bus: EventBus;
  server: http.Server;
  close(): Promise<void>;
}

export async function startRegistry(cfg: ServeConfig): Promise<RunningRegistry> {
  const store = new RegistryStore(cfg.dataDir, { deleteEnabled: cfg.deleteEnabled });
  await store.init();
  const bus = new EventBus();
  const log = new JsonlLog(store.paths.logsDir()).attach(bus);
  const app = createApp({ store, bus });
  const server = http.createServer(
    {
      requestTimeout: 0, // a large layer over a slow link may take long; headersTimeout still guards idle sockets
      headersTimeout: 60_000,
      keepAliveTimeout: 65_000,
      highWaterMark: 1024 * 1024,
    },
    app.callback(),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = `http://${urlHost}:${addr.port}`;
  bus.emit({ type: 'server', time: nowIso(), action: 'start', detail: { url, dataDir: cfg.dataDir, deleteEnabled: cfg.deleteEnabled } });
  let closing: Promise<void> | null = null;
  return {
    url,
    host: addr.address,
    port: addr.port,
    store,
    bus,
    server,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // give running transfers a moment, then cut them (uploads resume from disk)
          setTimeout(() => server.closeAllConnections(), 5_000).unref();
        });
        bus.emit({ type: 'server', time: nowIso(), action: 'stop', detail: { url } });
        await log.close();
      })();
      return closing;
    },
  };
}
