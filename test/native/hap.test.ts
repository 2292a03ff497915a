// Top-k and the HAP router: native vs the TypeScript reference (exact), the
// documented rule on hand-made inputs, and input checks.
import * as assert from 'node:assert/strict';
import { native } from '../../src/native/binding';
import { hapMerge, hapRoute, topK } from '../../src/native/hap';
import { hapMergeReference, hapRouteReference, topKReference } from '../oracles/hap';
import { mulberry32, normalArray, Rng, uniformArray } from '../oracles/random';
import { list } from './helpers';

/** Scores rounded to a coarse grid so that many are exactly tied. */
function tiedScores(rng: Rng, n: number, levels: number): Float32Array {
  return Float32Array.from(uniformArray(rng, n, 0, levels), (x) => Math.floor(x));
}

describe('native HAP router', () => {
  describe('topK', () => {
    it('matches the reference on random scores, with and without ties', () => {
      const rng = mulberry32(1);
      for (const n of [0, 1, 5, 100, 3000]) {
        for (const k of [0, 1, 3, 10, 100, n, n + 5]) {
          for (const scores of [normalArray(rng, n), tiedScores(rng, n, 4)]) {
            const got = topK(scores, k);
            assert.deepEqual(list(got), list(topKReference(scores, k)), `n ${n} k ${k}`);
            assert.equal(got.length, Math.min(k, n));
          }
        }
      }
    });

    it('orders best first and breaks ties by lower position', () => {
      const s = Float32Array.of(1, 3, 3, -2, 3, 0);
      assert.deepEqual(list(topK(s, 4)), [1, 2, 4, 0]);
      assert.deepEqual(list(topK(new Float32Array(6).fill(0.5), 6)), [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(list(topK(s, 0)), []);
      assert.deepEqual(list(topK(new Float32Array(0), 5)), []);
    });

    it('orders negative scores, -0 and +0 (a tie), extremes and subnormals by value', () => {
      const max = 3.4028234663852886e38;
      const s = Float32Array.of(-0, 1e-45, -1e-45, 0, -max, max, -1.5, 1.5, -0, -1.25, 2 ** -126);
      const want = topKReference(s, s.length);
      assert.deepEqual(list(topK(s, s.length)), list(want));
      // By value: max, 1.5, 2^-126, 1e-45; then the three zeros by position; then the negatives.
      assert.deepEqual(list(want), [5, 7, 10, 1, 0, 3, 8, 2, 9, 6, 4]);
      const rng = mulberry32(3);
      for (let trial = 0; trial < 20; trial++) {
        const mixed = Float32Array.from(normalArray(rng, 500), (x, i) => (i % 7 === 0 ? (i % 2 ? -0 : 0) : i % 11 === 0 ? -x * 1e30 : x));
        for (const k of [1, 17, 250, 500]) assert.deepEqual(list(topK(mixed, k)), list(topKReference(mixed, k)), `trial ${trial} k ${k}`);
      }
    });

    it('rejects bad input', () => {
      assert.throws(() => topK([1, 2] as unknown as Float32Array, 1), /scores must be a Float32Array/);
      assert.throws(() => topK(Float32Array.of(1, NaN), 1), /scores\[1\] is not finite/);
      assert.throws(() => topK(Float32Array.of(1, 2), -1), /k must be an integer/);
      assert.throws(() => topK(Float32Array.of(1, 2), 1.5), /k must be an integer/);
      assert.throws(() => topK(Float32Array.of(1, 2), NaN), /k must be an integer/);
    });
  });

  describe('hapRoute', () => {
    it('matches the reference exactly on random inputs', () => {
      const rng = mulberry32(2);
      for (let trial = 0; trial < 40; trial++) {
        const K = 1 + Math.floor(rng() * 400);
        const light = trial % 3 === 0 ? tiedScores(rng, K, 10) : normalArray(rng, K);
        const keep = Math.floor(rng() * (K + 2));
        const budget = Math.floor(rng() * (K + 2));
        const unc = trial % 2 === 0 ? uniformArray(rng, K, 0, 0.3) : undefined;
        const got = hapRoute(light, keep, budget, unc);
        assert.deepEqual(list(got), list(hapRouteReference(light, keep, budget, unc)), `trial ${trial}`);
      }
    });

    it('routes the candidates nearest the keep boundary, most uncertain first', () => {
      // Sorted: 9 8 7 | 5 2 1, keep 3: t = 6; |s - t| by position: 5 1 3 1 4 2.
      const light = Float32Array.of(1, 7, 9, 5, 2, 8);
      assert.deepEqual(list(hapRoute(light, 3, 2)), [1, 3]);
      assert.deepEqual(list(hapRoute(light, 3, 4)), [1, 3, 5, 2]);
      // Uncertainty widens the band: candidate 0 (|1 - 6| = 5) with u = 4.5 becomes the hardest.
      const u = Float32Array.of(4.5, 0, 0, 0, 0, 0);
      assert.deepEqual(list(hapRoute(light, 3, 2, u)), [0, 1]);
    });

    it('routes nothing for keep 0, keep >= K or budget 0; at most K for a large budget', () => {
      const light = normalArray(mulberry32(3), 20);
      assert.deepEqual(list(hapRoute(light, 0, 5)), []);
      assert.deepEqual(list(hapRoute(light, 20, 5)), []);
      assert.deepEqual(list(hapRoute(light, 25, 5)), []);
      assert.deepEqual(list(hapRoute(light, 10, 0)), []);
      assert.deepEqual(list(hapRoute(new Float32Array(0), 1, 1)), []);
      const all = hapRoute(light, 10, 1000);
      assert.deepEqual([...all].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
    });

    it('rejects bad input', () => {
      const light = Float32Array.of(1, 2, 3);
      assert.throws(() => hapRoute(Float32Array.of(1, NaN), 1, 1), /light\[1\] is not finite/);
      assert.throws(() => hapRoute(new Float64Array(3) as unknown as Float32Array, 1, 1), /light must be a Float32Array/);
      assert.throws(() => hapRoute(light, -1, 1), /keep must be an integer/);
      assert.throws(() => hapRoute(light, 1, 1.5), /budget must be an integer/);
      assert.throws(() => hapRoute(light, 1, 1, new Float32Array(2)), /uncertainty must have length 3/);
      assert.throws(() => hapRoute(light, 1, 1, Float32Array.of(0, Infinity, 0)), /uncertainty\[1\] is not finite/);
    });
  });

  describe('hapMerge', () => {
    it('matches the reference exactly on routed random inputs', () => {
      const rng = mulberry32(4);
      for (let trial = 0; trial < 40; trial++) {
        const K = 1 + Math.floor(rng() * 300);
        const light = trial % 4 === 0 ? tiedScores(rng, K, 6) : normalArray(rng, K);
        const keep = Math.floor(rng() * (K + 2));
        const hard = hapRoute(light, keep, Math.floor(rng() * K));
        const strong = normalArray(rng, hard.length, 3, 10); // a different scale on purpose
        const got = hapMerge(light, hard, strong, keep);
        const want = hapMergeReference(light, hard, strong, keep);
        assert.deepEqual(list(got.order), list(want.order), `trial ${trial} order`);
        assert.deepEqual(list(got.scores), list(want.scores), `trial ${trial} scores`);
      }
    });

    it('maps strong scores onto the light scale, keeping the strong order among the routed set', () => {
      const light = Float32Array.of(10, 6, 5, 4, 0);
      const hard = Int32Array.of(1, 2, 3);
      // Light over the hard set: mean 5, std sqrt(2/3); strong: mean 200, reversed order.
      const strong = Float32Array.of(100, 200, 300);
      const { order, scores } = hapMerge(light, hard, strong, 5);
      assert.deepEqual(list(order), [0, 3, 2, 1, 4]);
      const sd = Math.sqrt(2 / 3) / Math.sqrt(20000 / 3);
      const expected = [10, 5 + 100 * sd, 5, 5 - 100 * sd, 0];
      expected.forEach((e, i) => assert.ok(Math.abs(scores[i] - e) < 1e-5, `scores[${i}] = ${scores[i]}, expected ${e}`));
    });

    it('keeps light scores when the strong scores have no spread, and with no routed candidates', () => {
      const light = Float32Array.of(3, 1, 2, 2);
      let r = hapMerge(light, Int32Array.of(1, 2), Float32Array.of(7, 7), 4);
      assert.deepEqual(list(r.order), [0, 2, 3, 1]);
      assert.deepEqual(list(r.scores), [3, 2, 2, 1]);
      r = hapMerge(light, new Int32Array(0), new Float32Array(0), 3);
      assert.deepEqual(list(r.order), [0, 2, 3]);
      r = hapMerge(light, new Int32Array(0), new Float32Array(0), 0);
      assert.deepEqual(list(r.order), []);
      r = hapMerge(light, Int32Array.of(0), Float32Array.of(-50), 10);
      assert.deepEqual(list(r.order), [0, 2, 3, 1], 'a single routed candidate keeps its light score');
    });

    it('rejects bad input', () => {
      const light = Float32Array.of(1, 2, 3);
      assert.throws(() => hapMerge(light, Int32Array.of(0, 3), Float32Array.of(1, 2), 2), /hard\[1\] = 3 is out of range \[0, 3\)/);
      assert.throws(() => hapMerge(light, Int32Array.of(-1), Float32Array.of(1), 2), /hard\[0\] = -1 is out of range/);
      assert.throws(() => hapMerge(light, Int32Array.of(1, 1), Float32Array.of(1, 2), 2), /hard contains position 1 twice/);
      assert.throws(() => hapMerge(light, Int32Array.of(1, 2), Float32Array.of(1), 2), /strong must have length 2/);
      assert.throws(() => hapMerge(light, [1] as unknown as Int32Array, Float32Array.of(1), 2), /hard must be an Int32Array/);
      assert.throws(() => hapMerge(light, Int32Array.of(1), Float32Array.of(NaN), 2), /strong\[0\] is not finite/);
      assert.throws(() => hapMerge(Float32Array.of(1, Infinity), Int32Array.of(1), Float32Array.of(0), 2), /light\[1\] is not finite/);
      assert.throws(() => hapMerge(light, Int32Array.of(1), Float32Array.of(1), -2), /keep must be an integer/);
    });
  });

  describe('raw addon input checks (throw, never crash)', () => {
    const light = Float32Array.of(1, 2, 3, 4);
    it('hapMerge with out-of-range or repeated hard positions', () => {
      assert.throws(() => native.hapMerge(light, Int32Array.of(4), Float32Array.of(1), 2), /hard\[0\] is out of range \[0, 4\)/);
      assert.throws(() => native.hapMerge(light, Int32Array.of(-7), Float32Array.of(1), 2), /hard\[0\] is out of range/);
      assert.throws(() => native.hapMerge(light, Int32Array.of(2147483647), Float32Array.of(1), 2), /out of range/);
      assert.throws(() => native.hapMerge(light, Int32Array.of(2, 2), Float32Array.of(1, 1), 2), /twice/);
      assert.throws(() => native.hapMerge(light, Int32Array.of(1, 2), Float32Array.of(1), 2), /strong length must equal hard length/);
      assert.throws(() => native.hapMerge(light, Int32Array.of(1), Float32Array.of(NaN), 2), /strong\[0\] is not finite/);
      assert.throws(() => native.hapMerge(light, new Float32Array(1) as unknown as Int32Array, Float32Array.of(1), 2), /hard must be a Int32Array/);
      assert.throws(() => native.hapMerge(light, Int32Array.of(1), Float32Array.of(1), -1), /keep must be an integer/);
    });
    it('hapRoute and topK with bad sizes and values', () => {
      assert.throws(() => native.hapRoute(light, 2, 1, new Float32Array(3)), /uncertainty length must equal light length/);
      assert.throws(() => native.hapRoute(Float32Array.of(NaN, 1), 1, 1), /light\[0\] is not finite/);
      assert.throws(() => native.hapRoute(light, 2.5, 1), /keep must be an integer/);
      assert.throws(() => native.hapRoute(light, 2, Infinity), /budget must be an integer/);
      assert.throws(() => native.topK(light, -1), /k must be an integer/);
      assert.throws(() => native.topK(Float32Array.of(Infinity), 1), /scores\[0\] is not finite/);
      assert.throws(() => native.topK('x' as unknown as Float32Array, 1), /scores must be a Float32Array/);
      assert.throws(() => (native.topK as unknown as () => void)(), /scores must be a Float32Array/);
    });
  });
});
