#!/usr/bin/env node
'use strict';
// Bundle the React UI (renderer/) into dist/renderer/: index.html, app.js, app.css, icon.svg.
// The same files are loaded by Electron (file://) and served by `lanyard serve` at /.
// Usage: node scripts/build-renderer.js [--dev] [--watch]
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
const src = path.join(root, 'renderer');
const out = path.join(root, 'dist', 'renderer');
const dev = process.argv.includes('--dev') || process.argv.includes('--watch');
const watch = process.argv.includes('--watch');
const STATIC_FILES = ['index.html', 'icon.svg'];

/** @type {import('esbuild').BuildOptions} */
const options = {
  absWorkingDir: root,
  entryPoints: [
    { in: path.join(src, 'main.tsx'), out: 'app' },
    { in: path.join(src, 'styles.css'), out: 'app' },
  ],
  outdir: out,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome120', 'firefox115', 'safari16'],
  jsx: 'automatic',
  tsconfig: path.join(src, 'tsconfig.json'),
  minify: !dev,
  sourcemap: dev ? 'linked' : false,
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': JSON.stringify(dev ? 'development' : 'production') },
  logLevel: 'warning',
  plugins: [
    {
      // the UI reaches the registry only through the API contract: never the core itself
      name: 'renderer-boundary',
      setup(build) {
        const core = path.join(root, 'registry') + path.sep;
        const contract = path.join(root, 'registry', 'api', 'contract');
        build.onResolve({ filter: /^\.\.?\// }, (args) => {
          const target = path.resolve(args.resolveDir, args.path);
          if (!target.startsWith(core) || target === contract || target === contract + '.ts') return undefined;
          return { errors: [{ text: `the renderer may import only registry/api/contract, not ${path.relative(root, target)}` }] };
        });
      },
    },
    {
      name: 'static-files',
      setup(build) {
        build.onEnd(() => {
          for (const f of STATIC_FILES) fs.copyFileSync(path.join(src, f), path.join(out, f));
        });
      },
    },
  ],
};

async function main() {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  if (watch) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
    console.log(`build-renderer: watching ${path.relative(root, src)} → ${path.relative(root, out)}`);
    return;
  }
  await esbuild.build(options);
  const files = fs.readdirSync(out).sort();
  for (const f of ['index.html', 'app.js', 'app.css']) {
    if (!files.includes(f)) throw new Error(`build-renderer: ${f} was not produced`);
  }
}

main().catch((err) => {
  console.error(err && err.message ? err.message : err);
  process.exit(1);
});
