#!/usr/bin/env node
// Builds the native addon only when build/Release/ranking_native.node is
// missing or older than one of its sources (native/*, binding.gyp), and
// prints one line either way; node-gyp's output is shown only when the build
// fails. `npm start` and `npm test` run this; `npm run build` always
// configures and builds everything.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const addon = path.join(root, 'build', 'Release', 'ranking_native.node');

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** The sources the addon is built from: binding.gyp and every file under native/. */
function sources() {
  const out = [path.join(root, 'binding.gyp')];
  for (const e of fs.readdirSync(path.join(root, 'native'), { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.join(e.parentPath ?? e.path, e.name));
  }
  return out;
}

function nodeGyp(args) {
  const bin = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
}

function main() {
  const built = mtime(addon);
  const newer = sources().filter((f) => mtime(f) > built);
  if (built >= 0 && newer.length === 0) {
    console.log('native addon: up to date (build/Release/ranking_native.node)');
    return 0;
  }
  const names = newer.map((f) => path.relative(root, f));
  const why = built < 0 ? 'not built yet' : `changed: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`;
  process.stdout.write(`native addon: building (${why}) ... `);
  const t0 = Date.now();
  const steps = [];
  // configure again when there is no Makefile yet or binding.gyp changed since it was generated.
  if (mtime(path.join(root, 'build', 'Makefile')) < mtime(path.join(root, 'binding.gyp'))) steps.push(['configure']);
  steps.push(['build', '-j', String(Math.max(1, Math.min(os.availableParallelism(), 4)))]);
  for (const args of steps) {
    const r = nodeGyp(args);
    if (r.error || r.status !== 0) {
      process.stdout.write('failed\n');
      process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
      if (r.error) process.stderr.write(`${r.error.message}\n`);
      console.error(`native addon: node-gyp ${args[0]} failed (output above); are the system packages installed (bash scripts/install-system-deps.sh)?`);
      return 1;
    }
  }
  // make keeps the old file when nothing it tracks changed (a touched source): mark it current.
  const now = new Date();
  fs.utimesSync(addon, now, now);
  process.stdout.write(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  return 0;
}

process.exitCode = main();
