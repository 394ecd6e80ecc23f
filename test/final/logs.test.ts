// Runs after the whole suite (test/run.js starts test/final/ last): every `lanyard serve` the
// tests stopped copied its JSON-lines logs into LANYARD_SUITE_LOGS (test/helpers/lanyard.ts).
// No log line may carry a password the tests used (test/helpers/secrets.ts), a Basic-auth
// encoding of one, an Authorization header, a Basic or Bearer credential, or a bcrypt hash.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { secretNeedles } from '../helpers/secrets';

interface Needle {
  what: string;
  test: (line: string) => boolean;
}

function needles(): Needle[] {
  const out: Needle[] = secretNeedles().map(({ what, needle }) => ({ what, test: (l: string) => l.includes(needle) }));
  const literal = (s: string, what = JSON.stringify(s)) => out.push({ what, test: (l: string) => l.includes(s) });
  literal('Authorization');
  // a header dump as node writes it (lower-case names), e.g. {"authorization":"..."}
  out.push({ what: '"authorization" (a header dump)', test: (l: string) => /["']authorization["']/i.test(l) });
  literal('Basic ');
  literal('Bearer ');
  literal('$2y$', 'a bcrypt hash ($2y$)');
  literal('$2b$', 'a bcrypt hash ($2b$)');
  literal('$2a$', 'a bcrypt hash ($2a$)');
  return out;
}

function listFiles(dir: string): string[] {
  const files: string[] = [];
  (function walk(d: string) {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  })(dir);
  return files.sort();
}

describe('server logs of the whole suite', () => {
  it('carry no password, credential, token or password hash', (t) => {
    const dir = process.env.LANYARD_SUITE_LOGS;
    assert.ok(dir, 'LANYARD_SUITE_LOGS is not set: run this through test/run.js, after (or together with) the tests whose logs it checks');
    assert.ok(fs.existsSync(dir) && fs.statSync(dir).isDirectory(), `LANYARD_SUITE_LOGS=${dir} is not a folder`);
    const files = listFiles(dir);
    assert.ok(files.length > 0, `no server logs in ${dir}: no test stopped a lanyard serve in this run (run e.g. \`node test/run.js auth final\`)`);

    const checks = needles();
    const findings: string[] = [];
    let lines = 0;
    let bytes = 0;
    let authEvents = 0;
    for (const f of files) {
      const text = fs.readFileSync(f, 'utf8');
      bytes += Buffer.byteLength(text);
      const fileLines = text.split('\n');
      if (fileLines[fileLines.length - 1] === '') fileLines.pop();
      lines += fileLines.length;
      for (const [i, line] of fileLines.entries()) {
        if (line.includes('"type":"auth"')) authEvents++;
        for (const c of checks) {
          // name the file, line and what matched, never the line itself (it holds the secret)
          if (c.test(line)) findings.push(`${path.basename(f)}:${i + 1}: ${c.what}`);
        }
      }
    }
    const summary = `checked ${files.length} log file(s), ${lines} line(s), ${bytes} bytes (${authEvents} auth event(s)) for ${checks.length} patterns`;
    console.log(summary);
    t.diagnostic(summary);
    if (authEvents === 0) t.diagnostic('no auth events in these logs: the access-control tests did not run in this suite');
    assert.deepEqual(findings, [], `secrets in server logs (${dir}):\n${findings.slice(0, 50).join('\n')}`);
  });
});
