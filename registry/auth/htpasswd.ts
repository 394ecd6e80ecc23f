// htpasswd files as registry:2 and `htpasswd -B` know them: one `user:$2y$...` bcrypt line per
// user. Read on change (checked cheaply by stat), written atomically with mode 0600.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import bcrypt from 'bcryptjs';

export const BCRYPT_COST = 10;
const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
/** User names: what htpasswd accepts and shows cleanly in logs (no ':' or whitespace). */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function isValidUserName(name: string): boolean {
  return USER_NAME.test(name);
}

export function parseHtpasswd(text: string): { users: Map<string, string>; ignored: string[] } {
  const users = new Map<string, string>();
  const ignored: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    const name = i > 0 ? line.slice(0, i) : '';
    const hash = line.slice(i + 1);
    if (!name || !BCRYPT_HASH.test(hash)) {
      ignored.push(name || '(malformed line)');
      continue;
    }
    users.set(name, hash);
  }
  return { users, ignored };
}

export function formatHtpasswd(users: Map<string, string>): string {
  return [...users].map(([u, h]) => `${u}:${h}\n`).join('');
}

/** A bcrypt hash in the `$2y$` form htpasswd writes (same algorithm as bcryptjs' `$2b$`). */
export async function hashPassword(password: string, cost = BCRYPT_COST): Promise<string> {
  const h = await bcrypt.hash(password, cost);
  return h.replace(/^\$2[ab]\$/, '$2y$');
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash);
}

export function randomPassword(): string {
  return crypto.randomBytes(18).toString('base64url');
}

interface FileStamp {
  ino: number;
  size: number;
  mtimeMs: number;
}

function stamp(p: string): FileStamp | null {
  try {
    const s = fs.statSync(p);
    return { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return null;
  }
}

function sameStamp(a: FileStamp | null, b: FileStamp | null): boolean {
  return a === b || (!!a && !!b && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs);
}

/**
 * A text file that is re-parsed when it changes on disk (another process, the htpasswd
 * tool, an editor). `current()` costs one stat when nothing changed.
 */
export class WatchedFile<T> {
  private seen: FileStamp | null = null;
  private value: T;
  private checkedAt = 0;

  constructor(
    readonly file: string,
    private readonly parse: (text: string | null) => T,
    private readonly onChange?: (value: T) => void,
  ) {
    this.value = parse(null);
    this.reload();
  }

  /** The parsed content, re-read first if the file changed (stat at most every `minMs`). */
  current(minMs = 0): T {
    const now = Date.now();
    if (minMs === 0 || now - this.checkedAt >= minMs) {
      this.checkedAt = now;
      if (!sameStamp(this.seen, stamp(this.file))) this.reload();
    }
    return this.value;
  }

  reload(): void {
    const before = stamp(this.file);
    let text: string | null = null;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      text = null;
    }
    this.seen = before;
    this.value = this.parse(text);
    this.onChange?.(this.value);
  }

  /** Write new content atomically (temp + rename, 0600) and take it as current. */
  write(text: string): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, text, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.reload();
  }

  exists(): boolean {
    return stamp(this.file) !== null;
  }
}
