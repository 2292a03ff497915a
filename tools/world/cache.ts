// The demo world on disk, generated on first use and reused while its
// configuration (and the generator's version) is unchanged.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { GENERATOR_VERSION, generateWorld, worldPaths, WorldPaths } from './generate';
import { WorldConfig } from './schema';

export async function ensureWorld(root: string, cfg: WorldConfig, log: (m: string) => void = () => undefined): Promise<WorldPaths> {
  const want = JSON.stringify({ generatorVersion: GENERATOR_VERSION, config: cfg });
  try {
    const have = JSON.parse(await fs.readFile(path.join(root, 'world.json'), 'utf8')) as unknown;
    if (JSON.stringify(have) === want) return worldPaths(root);
    log(`demo world at ${root} was made with another configuration: regenerating`);
  } catch {
    log(`generating the demo world (${cfg.items} items, ${cfg.users} users) into ${root}`);
  }
  const s = await generateWorld(cfg, root, { progress: process.stderr.isTTY === true, log });
  log(`demo world ready in ${s.seconds.toFixed(1)} s`);
  return worldPaths(root);
}
