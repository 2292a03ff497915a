// Calibrated re-ranking (Steck): the greedy with one candidate per category
// per step must pick exactly what the plain greedy over every item picks.
import { strict as assert } from 'node:assert';

import { calibrate, listUtilities, miscalibration } from '../../../src/stages/policy/calibration';
import { mulberry32 } from '../../../src/util/random';

/** The plain greedy: every unpicked item weighed each step by the whole objective; ties to the earlier item. */
function bruteForce(u: Float32Array, cat: Int32Array, mix: { categories: Int32Array; shares: Float32Array }, lambda: number, n: number): number[] {
  const picked: number[] = [];
  const objective = (set: number[]) => {
    const counts = Float64Array.from(mix.categories, (g) => set.filter((i) => cat[i] === g).length);
    return (1 - lambda) * set.reduce((a, i) => a + u[i], 0) - lambda * miscalibration(mix.shares, counts, set.length);
  };
  while (picked.length < Math.min(n, u.length)) {
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < u.length; i++) {
      if (picked.includes(i)) continue;
      const v = objective([...picked, i]);
      if (v > bestValue + 1e-12) [best, bestValue] = [i, v];
    }
    picked.push(best);
  }
  return [...picked, ...Array.from(u.keys()).filter((i) => !picked.includes(i))];
}

describe('policy: calibration', () => {
  it('matches the plain greedy on small random lists', () => {
    const rng = mulberry32(5);
    for (let t = 0; t < 300; t++) {
      const m = 1 + Math.floor(rng() * 14);
      const C = 1 + Math.floor(rng() * 4);
      const scores = Float32Array.from({ length: m }, () => rng());
      const u = listUtilities(scores);
      const cat = Int32Array.from({ length: m }, () => Math.floor(rng() * C));
      const k = 1 + Math.floor(rng() * Math.min(3, C));
      // Distinct categories, one of them possibly absent from the list (C).
      const categories = Int32Array.from(Array.from({ length: C + 1 }, (_, g) => g).sort(() => rng() - 0.5).slice(0, k));
      const raw = Array.from({ length: k }, () => 0.1 + rng());
      const shares = Float32Array.from(raw, (x) => x / raw.reduce((a, b) => a + b, 0));
      const lambda = [0.1, 0.5, 0.9, 0.99][t % 4];
      const n = 1 + Math.floor(rng() * m);
      const got = Array.from(calibrate(u, cat, { categories, shares }, lambda, n));
      assert.deepEqual(got, bruteForce(u, cat, { categories, shares }, lambda, n), `case ${t}`);
    }
  });

  it('keeps the order at weight 0 and without a mix', () => {
    const u = listUtilities(Float32Array.of(3, 2, 2.5, 1));
    const cat = Int32Array.of(0, 0, 1, 1);
    const mix = { categories: Int32Array.of(1), shares: Float32Array.of(1) };
    assert.deepEqual(Array.from(calibrate(u, cat, mix, 0, 4)), [0, 1, 2, 3]);
    assert.deepEqual(Array.from(calibrate(u, cat, { categories: new Int32Array(0), shares: new Float32Array(0) }, 0.9, 4)), [0, 1, 2, 3]);
  });

  it('moves the best item of a missing category up, never reorders within a category', () => {
    // Five of category 0 scored above two of category 1; the mix asks for 60/40.
    const u = listUtilities(Float32Array.of(1, 0.95, 0.9, 0.85, 0.8, 0.5, 0.45));
    const cat = Int32Array.of(0, 0, 0, 0, 0, 1, 1);
    const mix = { categories: Int32Array.of(0, 1), shares: Float32Array.of(0.6, 0.4) };
    const order = Array.from(calibrate(u, cat, mix, 0.9, 5));
    assert.deepEqual(order.slice(0, 5).sort(), [0, 1, 2, 5, 6]);
    assert.deepEqual(order.filter((i) => cat[i] === 0), [0, 1, 2, 3, 4]);
  });

  it('miscalibration: KL(p || 0.99 q + 0.01 p) by hand', () => {
    // p = (0.5, 0.5), page of 4 with 3 and 1: q~ = (0.7475, 0.2525).
    const want = 0.5 * Math.log(0.5 / 0.7475) + 0.5 * Math.log(0.5 / 0.2525);
    assert.ok(Math.abs(miscalibration(Float32Array.of(0.5, 0.5), Float64Array.of(3, 1), 4) - want) < 1e-6);
    assert.equal(miscalibration(Float32Array.of(1), Float64Array.of(4), 4), 0);
  });
});
