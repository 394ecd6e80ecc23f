// Runtime settings in <data>/settings.json, re-read when the file changes (the CLI, the GUI
// or an editor may change them while the server runs).
import path from 'node:path';
import { WatchedFile } from './auth/htpasswd';
import { DEFAULT_LOCKOUT, LockoutPolicy } from './auth/lockout';

export interface Settings {
  /** unauthenticated GET/HEAD of blobs, manifests, tags and the catalog */
  anonymousPull: boolean;
  lockout: LockoutPolicy;
}

export const DEFAULT_SETTINGS: Settings = { anonymousPull: false, lockout: DEFAULT_LOCKOUT };

function positive(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;
}

export function parseSettings(text: string | null): Settings {
  let raw: Record<string, unknown> = {};
  try {
    raw = text ? JSON.parse(text) : {};
  } catch {
    raw = {};
  }
  const lo = (raw.lockout ?? {}) as Record<string, unknown>;
  return {
    anonymousPull: raw.anonymousPull === true,
    lockout: {
      attempts: Math.floor(positive(lo.attempts, DEFAULT_LOCKOUT.attempts)),
      windowMs: positive(lo.windowSeconds, DEFAULT_LOCKOUT.windowMs / 1000) * 1000,
      lockMs: positive(lo.lockSeconds, DEFAULT_LOCKOUT.lockMs / 1000) * 1000,
    },
  };
}

export function formatSettings(s: Settings): string {
  return (
    JSON.stringify(
      {
        anonymousPull: s.anonymousPull,
        lockout: { attempts: s.lockout.attempts, windowSeconds: s.lockout.windowMs / 1000, lockSeconds: s.lockout.lockMs / 1000 },
      },
      null,
      2,
    ) + '\n'
  );
}

export class SettingsStore {
  private readonly file: WatchedFile<Settings>;
  /** values forced for this run (command-line flags), over the file */
  private overrides: Partial<Settings> = {};

  constructor(dataDir: string) {
    this.file = new WatchedFile(path.join(dataDir, 'settings.json'), parseSettings);
  }

  /** Current settings; the file is checked at most every 250 ms. */
  current(): Settings {
    return { ...this.file.current(250), ...this.overrides };
  }

  override(o: Partial<Settings>): void {
    this.overrides = { ...this.overrides, ...o };
  }

  update(change: Partial<Settings>): Settings {
    const next = { ...this.file.current(), ...change };
    this.file.write(formatSettings(next));
    for (const k of Object.keys(change) as (keyof Settings)[]) delete this.overrides[k];
    return this.current();
  }
}
