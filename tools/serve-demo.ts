// The server on the embedded demo world (npm start): generates the world on
// the first run (--demo-dir, default .data/demo-world; --demo-items, default
// 100000), then runs src/main.ts on its bundle, its event log and its clock.
// Every other flag is the server's own (node dist/src/main.js --help); a
// --bundle flag serves that bundle instead.
import * as path from 'node:path';

import { runMain } from '../src/main';
import { ensureWorld } from './world/cache';
import { worldPaths } from './world/generate';
import { DEFAULT_WORLD } from './world/schema';

const ROOT = path.join(__dirname, '..', '..');

/** Takes `--name value` / `--name=value` out of argv; returns its value, if given. */
function take(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv.splice(i, 2)[1];
    if (argv[i].startsWith(`--${name}=`)) return argv.splice(i, 1)[0].slice(name.length + 3);
  }
  return undefined;
}

const argv = process.argv.slice(2);
const dir = path.resolve(ROOT, take(argv, 'demo-dir') ?? path.join('.data', 'demo-world'));
const items = Number(take(argv, 'demo-items') ?? DEFAULT_WORLD.items);
if (!Number.isInteger(items) || items < 1) {
  console.error(`--demo-items must be a positive integer, got ${items}`);
  process.exit(2);
}
const paths = worldPaths(dir);
runMain(
  {
    bundle: paths.bundle,
    events: paths.events,
    async ensure(log) {
      await ensureWorld(dir, { ...DEFAULT_WORLD, items }, (m) => log.info(m));
    },
  },
  argv,
);
