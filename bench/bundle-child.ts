// Child process of bundle-load.ts: loads one bundle and reports load time and
// peak RSS (VmHWM) as JSON on stdout, so the parent's memory does not count.
import { readFileSync } from 'node:fs';

import { loadBundle } from '../src/bundle/loader';

function vm(key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  const rssBefore = vm('VmRSS');
  const t0 = process.hrtime.bigint();
  const b = await loadBundle(dir, { buildIndex: false });
  const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
  global.gc?.();
  const out = { loadS, items: b.items.n, dim: b.manifest.embeddingDim, index: b.index.kind, rssBefore, rssAfter: vm('VmRSS'), peakRss: vm('VmHWM') };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
