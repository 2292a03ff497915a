#!/usr/bin/env node
// Generates the TypeScript types of the ranking proto for the typed client
// (src/client/generated/, committed) with @grpc/proto-loader's
// proto-loader-gen-types. The options must describe what loadProto() decodes
// (LOADER_OPTIONS in src/api/proto.ts); test/client/generated.test.ts checks
// both that and that the committed files are what this script writes.
//
//   npm run gen:client            (or: node scripts/gen-client.js [outDir])
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const DEFAULT_OUT = path.join(root, 'src', 'client', 'generated');

/**
 * proto-loader-gen-types flags. The proto is named relative to the include
 * directory, itself relative to the project root (the working directory), so
 * the "Original file" comments do not depend on where the project lives.
 */
const FLAGS = ['--keepCase', '--longs=Number', '--enums=String', '--defaults', '--oneofs', '--includeComments', '--grpcLib=@grpc/grpc-js', '-I', 'proto'];
const PROTOS = ['ranking/v1/ranking.proto'];

/** Writes the types into `outDir`, replacing what was there (types of removed messages must not linger). */
function generate(outDir = DEFAULT_OUT) {
  const bin = require.resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js', { paths: [root] });
  fs.rmSync(outDir, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [bin, ...FLAGS, '-O', outDir, ...PROTOS], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`proto-loader-gen-types failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  return outDir;
}

module.exports = { FLAGS, PROTOS, generate };

if (require.main === module) {
  const out = generate(process.argv[2] ? path.resolve(process.argv[2]) : DEFAULT_OUT);
  process.stdout.write(`types of ${PROTOS.join(', ')} written to ${path.relative(process.cwd(), out) || '.'}\n`);
}
