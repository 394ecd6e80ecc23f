#!/usr/bin/env node
'use strict';
// Runs every compiled test file with node's built-in test runner, one file at a time
// (integration tests start daemons; two cores do not like them in parallel).
// Usage: node test/run.js [substring filter...]
//
// Order: unit tests, then integration and e2e, then test/final/ in a run of its own once
// everything else has finished (its checks look at what the other tests left behind).
// Every `lanyard serve` a test stops copies its JSON-lines logs into one suite-wide folder,
// LANYARD_SUITE_LOGS (see test/helpers/lanyard.ts); test/final/logs.test.ts checks them for
// leaked secrets. The folder is a fresh temp dir, removed after a fully green run; set
// LANYARD_SUITE_LOGS yourself to keep it, or to collect logs over several runs, e.g.
//   LANYARD_SUITE_LOGS=/tmp/suite-logs node test/run.js auth
//   LANYARD_SUITE_LOGS=/tmp/suite-logs node test/run.js final
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..', 'dist', 'test');
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'bench') walk(p); }
    else if (e.name.endsWith('.test.js')) files.push(p);
  }
})(root);
const isFinal = (f) => f.includes(`${path.sep}final${path.sep}`);
const rank = (f) => (f.includes(`${path.sep}unit${path.sep}`) ? 0 : isFinal(f) ? 2 : 1);
files.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const selected = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (selected.length === 0) { console.error('no test files found'); process.exit(1); }

const given = process.env.LANYARD_SUITE_LOGS;
let logsDir;
if (given) {
  logsDir = path.resolve(given);
  fs.mkdirSync(logsDir, { recursive: true });
} else {
  logsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanyard-suite-logs-'));
}
const env = { ...process.env, LANYARD_SUITE_LOGS: logsDir };

// Each run also writes a TAP report to a file, read for the combined counts printed last.
const totals = { pass: 0, fail: 0, skipped: 0 };
const runFiles = (list) => {
  if (list.length === 0) return 0;
  const tap = path.join(os.tmpdir(), `lanyard-tap-${process.pid}-${Date.now()}`);
  const r = spawnSync(
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...list],
    { stdio: 'inherit', env },
  );
  try {
    const text = fs.readFileSync(tap, 'utf8');
    const count = (k) => Number((text.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) || [])[1] || 0);
    totals.pass += count('pass');
    totals.fail += count('fail') + count('cancelled');
    totals.skipped += count('skipped') + count('todo');
  } catch {
    totals.fail += 1; // no report: count the run as a failure
  }
  fs.rmSync(tap, { force: true });
  return r.status === null ? 1 : r.status;
};
const main = runFiles(selected.filter((f) => !isFinal(f)));
const final = runFiles(selected.filter(isFinal)); // runs even when the others failed
const status = main || final;
if (status !== 0 && totals.fail === 0) totals.fail = 1;
console.log(`\n${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
if (!given) {
  if (status === 0 || fs.readdirSync(logsDir).length === 0) fs.rmSync(logsDir, { recursive: true, force: true });
  else console.error(`server logs of this run kept in ${logsDir}`);
}
process.exit(status);
