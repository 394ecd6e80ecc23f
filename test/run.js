#!/usr/bin/env node
'use strict';
// Runs every compiled test file with node's built-in test runner, one file at a time
// (integration tests start daemons; two cores do not like them in parallel).
// Usage: node test/run.js [substring filter...]
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
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
// unit tests first, then integration
files.sort((a, b) => (a.includes('/unit/') ? 0 : 1) - (b.includes('/unit/') ? 0 : 1) || a.localeCompare(b));
const selected = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (selected.length === 0) { console.error('no test files found'); process.exit(1); }
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...selected], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
