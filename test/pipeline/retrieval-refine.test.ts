// The retrieval stage with the two-pass IVF SQfp16 search (engine option
// search.refine, or the manifest's index.refine): with every scanned code
// kept as a candidate it ranks exactly as the one-pass search does.
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { loadBundle } from '../../src/bundle/loader';
import { Engine } from '../../src/pipeline/engine';
import { ENGINE_DEFAULTS } from '../../src/pipeline/options';
import { plainRankInput } from './rank-input';
import { makeWorld, smallConfig, tmpDir } from '../tools/world/helpers';

describe('engine: retrieval with the two-pass IVF SQfp16 search (refine)', function () {
  this.timeout(120_000);
  let root: string;

  before(async () => {
    root = await tmpDir('rank-refine-');
    await makeWorld(smallConfig({ items: 3000, users: 100, dim: 16 }), root, 'IVF16,SQfp16');
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const rankAll = async (search: { nprobe: number; refine?: number }): Promise<number[][]> => {
    const bundle = await loadBundle(path.join(root, 'bundle'));
    assert.equal(bundle.index.kind, 'ivf-sq-simd');
    const engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, clock: 'bundle', search, seedEvents: path.join(root, 'events.jsonl') });
    try {
      const out: number[][] = [];
      for (let u = 0; u < 12; u++) {
        const input = plainRankInput(bundle, `user-${String(u * 7).padStart(6, '0')}`, `r${u}`);
        out.push((await engine.rank(input)).items.map((it) => it.row));
      }
      return out;
    } finally {
      await engine.close();
    }
  };

  it('ranks as the one-pass search does when refine keeps every scanned code, and returns full lists at refine 1.25', async () => {
    const one = await rankAll({ nprobe: 8 });
    const two = await rankAll({ nprobe: 8, refine: 64 });
    assert.deepEqual(two, one);
    const fast = await rankAll({ nprobe: 8, refine: 1.25 });
    for (const rows of fast) assert.equal(rows.length, 20);
  });
});
