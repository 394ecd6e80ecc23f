#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI lives in registry/cli (compiled to dist/ by `npm run build`).
const path = require('node:path');
const entry = path.join(__dirname, '..', 'dist', 'registry', 'cli', 'main.js');
try {
  require.resolve(entry);
} catch {
  console.error('lanyard: not built yet; run `npm run build` first');
  process.exit(1);
}
require(entry).main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`lanyard: ${err && err.message ? err.message : err}`); process.exit(1); },
);
