// Brute-force lockout: too many failed logins for one user or from one address inside a
// window locks that key for a while; the lock expires by itself.
export interface LockoutPolicy {
  /** failures that lock a user; an address (many users behind one NAT) gets ADDRESS_FACTOR times as many */
  attempts: number;
  windowMs: number;
  lockMs: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = { attempts: 10, windowMs: 5 * 60_000, lockMs: 5 * 60_000 };
const MAX_KEYS = 50_000;
export const ADDRESS_FACTOR = 5;

export class Lockout {
  private readonly failures = new Map<string, number[]>();
  private readonly lockedUntil = new Map<string, number>();

  constructor(private readonly policy: () => LockoutPolicy) {}

  /** Seconds until the first locked key unlocks, or 0 when none is locked. */
  retryAfter(keys: string[], now = Date.now()): number {
    let wait = 0;
    for (const k of keys) {
      const until = this.lockedUntil.get(k);
      if (until === undefined) continue;
      if (until <= now) this.lockedUntil.delete(k);
      else wait = Math.max(wait, Math.ceil((until - now) / 1000));
    }
    return wait;
  }

  /** Record a failure for each key; returns the keys that just became locked. */
  fail(keys: string[], now = Date.now()): string[] {
    const { attempts, windowMs, lockMs } = this.policy();
    const locked: string[] = [];
    if (this.failures.size > MAX_KEYS) this.prune(now);
    for (const k of keys) {
      const recent = (this.failures.get(k) ?? []).filter((t) => now - t < windowMs);
      recent.push(now);
      if (recent.length >= (k.startsWith('addr:') ? attempts * ADDRESS_FACTOR : attempts)) {
        this.lockedUntil.set(k, now + lockMs);
        this.failures.delete(k);
        locked.push(k);
      } else {
        this.failures.set(k, recent);
      }
    }
    return locked;
  }

  succeed(keys: string[]): void {
    for (const k of keys) this.failures.delete(k);
  }

  private prune(now: number): void {
    const { windowMs } = this.policy();
    for (const [k, ts] of this.failures) if (ts.every((t) => now - t >= windowMs)) this.failures.delete(k);
    for (const [k, until] of this.lockedUntil) if (until <= now) this.lockedUntil.delete(k);
  }
}
