// Purchase down-rank: window boundaries, factor multiply (never raising a
// score), factor 0 pushing the purchased block to the bottom in order.
import * as assert from 'node:assert/strict';
import { downrankPurchased, PURCHASE_WINDOW_MS } from '../../../src/engine/policy/downrank-purchased';
import { mulberry32, permutation, uniformArray } from '../../../src/reference/random';

const DAY = 24 * 3600 * 1000;
const NOW = 1_700_000_000_000;

/** Positions sorted by score descending (ties by position). */
function orderOf(scores: Float32Array): number[] {
  return Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
}

describe('policy: downrankPurchased', () => {
  it('defaults to a 60-day window', () => {
    assert.equal(PURCHASE_WINDOW_MS, 60 * DAY);
  });

  it('multiplies scores of items purchased within the window by factor', () => {
    const rows = Int32Array.of(10, 11, 12, 13, 14);
    const scores = Float32Array.of(0.9, 0.8, 0.7, 0.6, 0.5);
    const purchased = new Map([
      [11, NOW - 10 * DAY], // inside
      [12, NOW - 60 * DAY], // exactly at the window edge: counts
      [13, NOW - 60 * DAY - 1], // just outside
      [99, NOW], // not a candidate
    ]);
    const out = downrankPurchased(rows, scores, purchased, NOW, PURCHASE_WINDOW_MS, 0.5);
    assert.deepEqual(Array.from(out), Array.from(Float32Array.of(0.9, 0.4, 0.35, 0.6, 0.5)));
    assert.deepEqual(Array.from(scores), Array.from(Float32Array.of(0.9, 0.8, 0.7, 0.6, 0.5)), 'input untouched');
    assert.notEqual(out, scores);
  });

  it('never raises a negative score (divides by factor instead)', () => {
    const out = downrankPurchased(Int32Array.of(1, 2), Float32Array.of(-2, 4), new Map([[1, NOW], [2, NOW]]), NOW, DAY, 0.25);
    assert.deepEqual(Array.from(out), [-8, 1]);
  });

  it('counts purchases stamped in the future and honours a custom window', () => {
    const rows = Int32Array.of(1, 2, 3);
    const purchased = new Map([[1, NOW + 5000], [2, NOW - 2 * DAY], [3, NOW - DAY]]);
    const out = downrankPurchased(rows, Float32Array.of(1, 1, 1), purchased, NOW, DAY, 0.5);
    assert.deepEqual(Array.from(out), [0.5, 1, 0.5]);
  });

  it('factor 1 and an empty purchase map leave scores unchanged', () => {
    const rows = Int32Array.of(1, 2);
    const scores = Float32Array.of(0.3, 0.2);
    assert.deepEqual(Array.from(downrankPurchased(rows, scores, new Map([[1, NOW]]), NOW, DAY, 1)), Array.from(scores));
    assert.deepEqual(Array.from(downrankPurchased(rows, scores, new Map(), NOW)), Array.from(scores));
  });

  it('factor 0 (default) puts purchased items below all others, in their own order', () => {
    const rows = Int32Array.of(5, 6, 7, 8, 9, 10);
    const scores = Float32Array.of(3.0, 2.5, 2.0, 1.5, 1.0, 0.5);
    const purchased = new Map([[5, NOW - DAY], [7, NOW - 2 * DAY], [9, NOW - 3 * DAY]]);
    const out = downrankPurchased(rows, scores, purchased, NOW);
    assert.deepEqual(orderOf(out), [1, 3, 5, 0, 2, 4]);
    for (const i of [1, 3, 5]) assert.equal(out[i], scores[i], 'others keep their scores');
    assert.ok(out[0] <= 0.5 - 1, 'at least 1 below the lowest other score');
    // One common shift: gaps within the purchased block are kept.
    assert.ok(Math.abs(out[0] - out[2] - 1.0) < 1e-6 && Math.abs(out[2] - out[4] - 1.0) < 1e-6);
  });

  it('factor 0 on random inputs: purchased block strictly last, both blocks keep their order', () => {
    const rng = mulberry32(7);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rng() * 60);
      const rows = permutation(rng, 2 * n).slice(0, n);
      const scale = [1, 1000, 1e6][trial % 3];
      const scores = uniformArray(rng, n, -scale, scale);
      const purchased = new Map<number, number>();
      for (let i = 0; i < n; i++) if (rng() < 0.4) purchased.set(rows[i], NOW - rng() * 120 * DAY);
      const out = downrankPurchased(rows, scores, purchased, NOW);
      const hit = Array.from(rows, (r) => purchased.has(r) && NOW - purchased.get(r)! <= PURCHASE_WINDOW_MS);
      let minOther = Infinity;
      let maxHit = -Infinity;
      for (let i = 0; i < n; i++) {
        if (hit[i]) maxHit = Math.max(maxHit, out[i]);
        else {
          minOther = Math.min(minOther, out[i]);
          assert.equal(out[i], scores[i]);
        }
      }
      if (maxHit > -Infinity && minOther < Infinity) assert.ok(maxHit < minOther, `trial ${trial}: ${maxHit} !< ${minOther}`);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          if (hit[i] === hit[j] && scores[i] < scores[j]) assert.ok(out[i] <= out[j], `trial ${trial}: order of ${i}, ${j} swapped`);
        }
      }
    }
  });

  it('factor 0 with every candidate purchased keeps the scores', () => {
    const scores = Float32Array.of(2, 1);
    assert.deepEqual(Array.from(downrankPurchased(Int32Array.of(1, 2), scores, new Map([[1, NOW], [2, NOW]]), NOW)), [2, 1]);
  });

  it('rejects bad arguments', () => {
    const rows = Int32Array.of(1);
    assert.throws(() => downrankPurchased(rows, new Float32Array(2), new Map(), NOW), RangeError);
    assert.throws(() => downrankPurchased(rows, new Float32Array(1), new Map(), NOW, DAY, 1.5), RangeError);
    assert.throws(() => downrankPurchased(rows, new Float32Array(1), new Map(), NOW, DAY, -0.1), RangeError);
    assert.throws(() => downrankPurchased(rows, new Float32Array(1), new Map(), NOW, -1), RangeError);
    assert.throws(() => downrankPurchased(rows, new Float32Array(1), new Map(), NaN), RangeError);
  });
});
