#!/usr/bin/env node
'use strict';
// Builds registry/native/lanyard_native.c into dist/native/lanyard_native.node: Lanyard's
// zero-copy download path (sendfile). Linux only; one C file against Node-API, so a C
// compiler and Node's own headers are all it takes (no node-gyp, no python).
//
// Without a compiler or headers the build says so and goes on: Lanyard then sends blobs
// through its buffered path. `npm test` checks that the module is there on Linux.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'registry', 'native', 'lanyard_native.c');
const outDir = path.join(root, 'dist', 'native');
const out = path.join(outDir, 'lanyard_native.node');

function headerDirs() {
  // Node's headers ship beside its binary (Debian's nodejs, the official tarballs, nvm);
  // npm's nodedir setting can point elsewhere.
  const candidates = [process.env.npm_config_nodedir, path.resolve(process.execPath, '..', '..')].filter(Boolean);
  for (const base of candidates) {
    const dir = path.join(base, 'include', 'node');
    if (fs.existsSync(path.join(dir, 'node_api.h')) && fs.existsSync(path.join(dir, 'uv.h'))) return dir;
  }
  return null;
}

function main() {
  if (process.platform !== 'linux') {
    console.log('build-native: not Linux, skipped (blobs are sent through the buffered path)');
    return 0;
  }
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs) return 0; // up to date
  const include = headerDirs();
  if (!include) {
    console.warn('build-native: WARNING: Node\'s headers (include/node/node_api.h) were not found; downloads use the buffered path');
    return 0;
  }
  const cc = process.env.CC || 'cc';
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const args = ['-O2', '-Wall', '-Wextra', '-Wno-unused-parameter', '-fPIC', '-shared', '-fvisibility=hidden',
    `-I${include}`, '-o', tmp, src];
  const r = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    console.warn(`build-native: WARNING: ${cc} failed (${r.error ? r.error.message : `exit ${r.status}`}); downloads use the buffered path`);
    return 0;
  }
  fs.renameSync(tmp, out);
  return 0;
}

process.exit(main());
