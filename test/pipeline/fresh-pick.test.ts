// The fresh source's selection: pickBest takes the best accepted rows in
// score order without filtering every candidate first; it must give exactly
// what filtering first and then taking the top gives (ties by position).
import { strict as assert } from 'node:assert';

import { pickBest } from '../../src/stages/retrieval';
import { mulberry32 } from '../../src/util/random';

/** Filter first, then a stable sort by score: the obvious reference. */
function reference(rows: Int32Array, scores: Float32Array, keep: number, accept: (r: number) => boolean): number[] {
  const idx = Array.from(rows.keys()).filter((i) => accept(rows[i]));
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, keep).map((i) => rows[i]);
}

describe('engine: fresh-source selection (pickBest)', () => {
  it('equals filter-then-top-k for every acceptance rate, with ties, short and long lists', () => {
    const rng = mulberry32(11);
    for (let t = 0; t < 400; t++) {
      const n = [0, 1, 5, 50, 116, 117, 300, 2000][t % 8];
      const keep = [1, 10, 50][t % 3];
      const rows = Int32Array.from({ length: n }, () => Math.floor(rng() * 1e6));
      // Coarse scores make ties common.
      const scores = Float32Array.from({ length: n }, () => Math.round(rng() * 20) / 4);
      const rate = [0, 0.01, 0.2, 0.9, 1][t % 5];
      const taken = new Set(Array.from(rows).filter(() => rng() < rate));
      const accept = (r: number) => taken.has(r);
      assert.deepEqual(Array.from(pickBest(rows, scores, keep, accept)), reference(rows, scores, keep, accept), `n ${n}, keep ${keep}, rate ${rate}`);
    }
  });

  it('filters only the best few when they hold enough accepted rows', () => {
    const n = 2000;
    const rows = Int32Array.from({ length: n }, (_, i) => i);
    const scores = Float32Array.from({ length: n }, (_, i) => n - i);
    let calls = 0;
    const got = pickBest(rows, scores, 50, (r) => (calls++, r % 2 === 0));
    assert.deepEqual(Array.from(got), Array.from({ length: 50 }, (_, i) => 2 * i));
    assert.ok(calls <= 2 * 50 + 16, `accept ran ${calls} times`);
  });
});
