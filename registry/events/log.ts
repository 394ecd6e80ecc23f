// Appends every event to a JSON-lines file in the data dir (<data>/logs/lanyard.jsonl).
// Writes are buffered by the stream; rotation keeps the file below a size limit.
import fs from 'node:fs';
import path from 'node:path';
import type { EventBus, LanyardEvent } from './bus';

export const LOG_FILE = 'lanyard.jsonl';
const MAX_LOG_BYTES = 64 * 1024 * 1024;

export class JsonlLog {
  private stream: fs.WriteStream;
  private size: number;
  private readonly file: string;
  private unsubscribe: (() => void) | null = null;

  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, LOG_FILE);
    this.size = fileSize(this.file);
    this.stream = this.open();
  }

  private open(): fs.WriteStream {
    const s = fs.createWriteStream(this.file, { flags: 'a', mode: 0o600 });
    s.on('error', (err) => process.emitWarning(`lanyard log: ${err.message}`));
    return s;
  }

  attach(bus: EventBus): this {
    this.unsubscribe = bus.subscribe((e) => this.write(e));
    return this;
  }

  write(e: LanyardEvent): void {
    const line = JSON.stringify(e) + '\n';
    this.size += Buffer.byteLength(line);
    this.stream.write(line);
    if (this.size > MAX_LOG_BYTES) this.rotate();
  }

  private rotate(): void {
    const old = this.stream;
    old.end();
    try {
      fs.renameSync(this.file, this.file + '.1');
    } catch {
      /* another rotation won */
    }
    this.size = 0;
    this.stream = this.open();
  }

  close(): Promise<void> {
    this.unsubscribe?.();
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

/** Read the newest events (for the logs view and tests): the last `limit` lines of the log. */
export function readRecentEvents(dir: string, limit = 500): LanyardEvent[] {
  const file = path.join(dir, LOG_FILE);
  let text: string;
  try {
    // only the tail: the file may hold up to MAX_LOG_BYTES, and lines are a few hundred bytes
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const want = Math.min(size, limit * 2048);
      const buf = Buffer.alloc(want);
      fs.readSync(fd, buf, 0, want, size - want);
      text = buf.toString('utf8');
      if (want < size) text = text.slice(text.indexOf('\n') + 1); // drop the cut first line
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
  const lines = text.split('\n').filter(Boolean).slice(-limit);
  const out: LanyardEvent[] = [];
  for (const l of lines) {
    try {
      out.push(JSON.parse(l) as LanyardEvent);
    } catch {
      /* a torn last line after a crash */
    }
  }
  return out;
}
