// Bundle benchmark: demo-world generation time, bundle load time (prebuilt
// index, checksums verified) and the peak RSS of a process holding the loaded
// bundle, against the raw size of embeddings + index + item metadata.
//
//   npm run build && node dist/bench/bundle-load.js [--sizes 100000,1000000] [--dir .data/bench-worlds]
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { generateWorld } from '../tools/world/generate';
import { DEFAULT_WORLD, WorldConfig } from '../tools/world/schema';

const ROOT = path.join(__dirname, '..', '..');
const MiB = 2 ** 20;

interface Result {
  items: number;
  dim: number;
  users: number;
  generateS: number;
  loadS: number;
  index: string;
  rawBytes: { embeddings: number; index: number; items: number; total: number };
  peakRss: number;
  rssBaseline: number;
  peakOverRaw: number;
}

async function one(n: number, dir: string): Promise<Result> {
  const dim = n >= 1_000_000 ? 64 : 32;
  const cfg: WorldConfig = { ...DEFAULT_WORLD, items: n, dim };
  const root = path.join(dir, `world-${n}`);
  process.stderr.write(`generating ${n} items x ${dim}...\n`);
  const t0 = process.hrtime.bigint();
  await generateWorld(cfg, root, { log: (m) => process.stderr.write(`  ${m}\n`) });
  const generateS = Number(process.hrtime.bigint() - t0) / 1e9;
  const b = path.join(root, 'bundle');
  const size = async (f: string) => (await fs.stat(path.join(b, f))).size;
  const raw = { embeddings: await size('item_embeddings.npy'), index: await size('index.faiss'), items: await size('items.jsonl'), total: 0 };
  raw.total = raw.embeddings + raw.index + raw.items;
  const child = path.join(__dirname, 'bundle-child.js');
  const run = spawnSync(process.execPath, ['--expose-gc', child, b], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (run.status !== 0) throw new Error(`loading ${b} failed: ${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { loadS: number; index: string; peakRss: number; rssBefore: number };
  return {
    items: n,
    dim,
    users: cfg.users,
    generateS,
    loadS: r.loadS,
    index: r.index,
    rawBytes: raw,
    peakRss: r.peakRss,
    rssBaseline: r.rssBefore,
    peakOverRaw: r.peakRss / raw.total,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string' }, dir: { type: 'string' } } });
  const sizes = (values.sizes ?? '100000,1000000').split(',').map(Number);
  const dir = values.dir ?? path.join(ROOT, '.data', 'bench-worlds');
  await fs.mkdir(dir, { recursive: true });
  const results: Result[] = [];
  for (const n of sizes) results.push(await one(n, dir));
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const cpu = /model name\s*:\s*(.*)/.exec(await fs.readFile('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const meta = { date: new Date().toISOString(), commit, cpu, cores: os.cpus().length, node: process.version, command: `node dist/bench/bundle-load.js --sizes ${sizes.join(',')}` };
  const outDir = path.join(ROOT, 'bench', 'results');
  await fs.mkdir(outDir, { recursive: true });
  await fs.writeFile(path.join(outDir, 'bundle.json'), JSON.stringify({ meta, results }, null, 2) + '\n');
  const md = [
    '# Bundle benchmark',
    '',
    `${meta.date} · commit \`${commit}\` · ${cpu} (${meta.cores} cores) · Node ${meta.node} · \`${meta.command}\``,
    '',
    'Generation: the demo world (catalog, users, interaction log, models, IVF index, truth), single-threaded.',
    'Load: `loadBundle` with the prebuilt index and every sha256 verified, in a fresh process; peak RSS is that process\'s VmHWM.',
    '',
    '| items | dim | generate s | load s | index | raw MiB (emb + index + items.jsonl) | peak RSS MiB | RSS before load MiB | peak / raw |',
    '|---:|---:|---:|---:|---|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.items} | ${r.dim} | ${r.generateS.toFixed(1)} | ${r.loadS.toFixed(2)} | ${r.index} | ${(r.rawBytes.total / MiB).toFixed(0)} (${(r.rawBytes.embeddings / MiB).toFixed(0)} + ${(r.rawBytes.index / MiB).toFixed(0)} + ${(r.rawBytes.items / MiB).toFixed(0)}) | ${(r.peakRss / MiB).toFixed(0)} | ${(r.rssBaseline / MiB).toFixed(0)} | ${r.peakOverRaw.toFixed(2)} |`,
    ),
    '',
    'Target: peak RSS of the process holding the 1M bundle ≤ 1.5 × raw size.',
    '',
  ].join('\n');
  await fs.writeFile(path.join(outDir, 'bundle.md'), md);
  process.stdout.write(md);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
