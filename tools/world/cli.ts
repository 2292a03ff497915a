// npm run world -- --out DIR [--items N] [--users N] [--dim D] [--seed S] [--index FACTORY] [--no-index] | --help
import { parseArgs } from 'node:util';

import { generateWorld } from './generate';
import { DEFAULT_WORLD, WorldConfig } from './schema';

export const USAGE = `usage: npm run world -- --out DIR [options]

Generates a synthetic world: catalog, users, event log, the bundle for it
(DIR/bundle) and the ground truth beside it (DIR/truth).

options:
  --out DIR               where to write it (required)
  --items N               catalog items (default ${DEFAULT_WORLD.items})
  --users N               users (default ${DEFAULT_WORLD.users})
  --dim D                 embedding dimension (default ${DEFAULT_WORLD.dim})
  --seed S                random seed (default ${DEFAULT_WORLD.seed})
  --reference-time ISO    the world's "now" (default ${DEFAULT_WORLD.referenceTime})
  --index FACTORY         FAISS index factory string of the bundle's index (default: by catalog size)
  --no-index              write no prebuilt index (the loader builds it)
  --help, -h              this text`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      out: { type: 'string' },
      items: { type: 'string' },
      users: { type: 'string' },
      dim: { type: 'string' },
      seed: { type: 'string' },
      index: { type: 'string' },
      'no-index': { type: 'boolean' },
      'reference-time': { type: 'string' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.out) throw new Error(USAGE);
  const num = (v: string | undefined, dflt: number, name: string) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  const cfg: WorldConfig = {
    ...DEFAULT_WORLD,
    items: num(values.items, DEFAULT_WORLD.items, 'items'),
    users: num(values.users, DEFAULT_WORLD.users, 'users'),
    dim: num(values.dim, DEFAULT_WORLD.dim, 'dim'),
    seed: num(values.seed, DEFAULT_WORLD.seed, 'seed'),
    referenceTime: values['reference-time'] ?? DEFAULT_WORLD.referenceTime,
  };
  const s = await generateWorld(cfg, values.out, {
    indexFactory: values.index,
    prebuiltIndex: !values['no-index'],
    progress: true,
    log: (m) => process.stderr.write(`${m}\n`),
  });
  console.log(JSON.stringify({ out: values.out, ...s }, null, 2));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
