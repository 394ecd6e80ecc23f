// Advertise the registry on the LAN with mDNS/DNS-SD (bonjour-service), so other machines can
// find `<hostname>.local` and the port. Only when listening beyond loopback; switchable off.
// Docker often cannot resolve .local names, which is why Lanyard also shows IP:port addresses.
import os from 'node:os';
import Bonjour from 'bonjour-service';

export interface Advertisement {
  stop(): Promise<void>;
}

export interface AdvertiseOptions {
  port: number;
  tls: boolean;
  /** SHA-256 of the CA, so a browser of services can show what to pin */
  caFingerprint?: string | null;
  /** defaults to the host name */
  name?: string;
}

/** Publish `_lanyard._tcp` (and `_https._tcp` / `_http._tcp` for generic browsers). */
export function advertise(opts: AdvertiseOptions): Advertisement {
  const bonjour = new Bonjour.Bonjour({}, (err: unknown) => process.emitWarning(`lanyard: mDNS: ${err instanceof Error ? err.message : err}`));
  const name = opts.name ?? `Lanyard on ${os.hostname()}`;
  const txt: Record<string, string> = { path: '/v2/', tls: opts.tls ? '1' : '0' };
  if (opts.caFingerprint) txt.ca = opts.caFingerprint.replace(/:/g, '').toLowerCase();
  bonjour.publish({ name, type: 'lanyard', port: opts.port, txt });
  bonjour.publish({ name, type: opts.tls ? 'https' : 'http', port: opts.port, txt });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        bonjour.unpublishAll(() => bonjour.destroy(() => resolve()));
        setTimeout(resolve, 2000).unref();
      }),
  };
}
