// The evaluator's metrics against hand-computed examples and their edge cases.
import assert from 'node:assert/strict';

import {
  bootstrapRatio,
  column,
  countWhere,
  dcgAt,
  distinctCount,
  groupMeans,
  maxBrandRun,
  mean,
  meanInterval,
  ndcgAt,
  pairedDifference,
  pooledShare,
  recallAt,
  recallOfTop,
  shareByPosition,
} from '../../../tools/eval/metrics';
import { paretoFront, searchGrid, searchLabel } from '../../../tools/eval/run';
import { niceTicks, renderLinePlot } from '../../../tools/eval/svg';

const L3 = Math.log2(3); // 1.5849625007

function close(a: number, b: number, eps = 1e-9): void {
  assert.ok(Math.abs(a - b) <= eps, `${a} != ${b} (eps ${eps})`);
}

describe('eval metrics', () => {
  describe('dcgAt', () => {
    it('sums gain / log2(position + 2)', () => {
      // 3/log2(2) + 2/log2(3) + 1/log2(4) = 3 + 1.2618595 + 0.5
      close(dcgAt([3, 2, 1], 3), 3 + 2 / L3 + 0.5);
      close(dcgAt([3, 2, 1], 3), 4.7618595071, 1e-9);
      close(dcgAt([3, 2, 1], 2), 4.2618595071, 1e-9);
      close(dcgAt([3, 2, 1], 1), 3);
    });
    it('treats k larger than the list as padding with zero gains', () => {
      close(dcgAt([3, 2, 1], 100), dcgAt([3, 2, 1], 3));
      close(dcgAt([1], 10), 1);
    });
    it('is 0 for an empty list and for k = 0', () => {
      assert.equal(dcgAt([], 5), 0);
      assert.equal(dcgAt([5, 4], 0), 0);
    });
    it('rejects a negative or fractional k', () => {
      assert.throws(() => dcgAt([1], -1), RangeError);
      assert.throws(() => dcgAt([1], 1.5), RangeError);
    });
  });

  describe('ndcgAt', () => {
    it('is 1 for the ideal order and less for a worse one', () => {
      close(ndcgAt([3, 2, 1], [3, 2, 1], 3), 1);
      // reversed: (1 + 2/log2 3 + 3/2) / (3 + 2/log2 3 + 1/2) = 3.7618595 / 4.7618595
      close(ndcgAt([1, 2, 3], [3, 2, 1], 3), 3.7618595071 / 4.7618595071, 1e-9);
      close(ndcgAt([1, 2, 3], [3, 2, 1], 3), 0.7899990, 1e-6);
    });
    it('sorts the ideal gains itself', () => {
      close(ndcgAt([3, 2, 1], [1, 3, 2], 3), 1);
    });
    it('uses only the top k of the ideal', () => {
      // list [2, 0] vs ideal [3, 2, 1] at k = 2: 2 / (3 + 2/log2 3) = 2 / 4.2618595
      close(ndcgAt([2, 0], [3, 2, 1], 2), 2 / (3 + 2 / L3));
      close(ndcgAt([2, 0], [3, 2, 1], 2), 0.4692790, 1e-6);
    });
    it('counts missing positions of a short list as gain 0 (k larger than the list)', () => {
      // [2] vs ideal [2, 1] at k = 5: 2 / (2 + 1/log2 3) = 2 / 2.6309298
      close(ndcgAt([2], [2, 1], 5), 2 / (2 + 1 / L3));
      close(ndcgAt([2], [2, 1], 5), 0.7601875, 1e-6);
    });
    it('is 0 by convention when the ideal DCG is 0 (all-zero or empty ideal)', () => {
      assert.equal(ndcgAt([0, 0], [0, 0, 0], 2), 0);
      assert.equal(ndcgAt([], [], 10), 0);
      assert.equal(ndcgAt([1], [1], 0), 0);
    });
    it('is 0 for an empty list against a non-empty ideal', () => {
      assert.equal(ndcgAt([], [1, 2], 10), 0);
    });
  });

  describe('recallAt', () => {
    it('is the share of the true top k found in the returned top k', () => {
      assert.equal(recallAt([5, 1, 9, 7], [1, 2, 3, 5], 3), 1 / 3); // {5,1,9} ∩ {1,2,3}
      assert.equal(recallAt([5, 1, 9, 7], [1, 2, 3, 5], 4), 2 / 4); // {5,1,9,7} ∩ {1,2,3,5}
      assert.equal(recallAt([3, 2, 1], [1, 2, 3], 3), 1);
    });
    it('handles k larger than either list and duplicates', () => {
      assert.equal(recallAt([1], [1, 2], 10), 1 / 2);
      assert.equal(recallAt([1, 1], [1, 2], 2), 1 / 2);
    });
    it('is 0 for an empty truth set or k = 0, and for an empty list', () => {
      assert.equal(recallAt([1, 2], [], 5), 0);
      assert.equal(recallAt([1, 2], [1, 2], 0), 0);
      assert.equal(recallAt([], [1, 2], 2), 0);
    });
  });

  describe('recallOfTop', () => {
    it('is the share of the true top n anywhere among the candidates', () => {
      assert.equal(recallOfTop([5, 9, 1, 7], [1, 2, 3, 5], 4), 2 / 4); // {1,2,3,5} ∩ {5,9,1,7} = {1,5}
      assert.equal(recallOfTop([5, 9, 1, 7], [1, 2, 3, 5], 2), 1 / 2); // {1,2}: 1 found
      assert.equal(recallOfTop([5, 9, 1, 7], [1, 2, 3, 5], 1), 1); // {1}
      assert.equal(recallOfTop([5, 9, 7], [1, 2, 3, 5], 3), 0); // {1,2,3}: none
    });
    it('counts a candidate at any position, unlike recallAt', () => {
      // The true top 1 is the 6th candidate: found, while recallAt cuts the candidates at k = 1.
      assert.equal(recallOfTop([10, 11, 12, 13, 14, 3], [3, 4], 1), 1);
      assert.equal(recallAt([10, 11, 12, 13, 14, 3], [3, 4], 1), 0);
    });
    it('counts duplicates once and uses all of a truth shorter than n', () => {
      assert.equal(recallOfTop([1, 1, 1], [1, 1, 2], 3), 1 / 2); // truth {1,2}
      assert.equal(recallOfTop([2], [1, 2], 100), 1 / 2);
    });
    it('is 0 for an empty truth set, n = 0 or no candidates; rejects a bad n', () => {
      assert.equal(recallOfTop([1, 2], [], 5), 0);
      assert.equal(recallOfTop([1, 2], [1, 2], 0), 0);
      assert.equal(recallOfTop([], [1, 2], 2), 0);
      assert.throws(() => recallOfTop([1], [1], -1), RangeError);
      assert.throws(() => recallOfTop([1], [1], 1.5), RangeError);
    });
  });

  describe('groupMeans', () => {
    it('counts and averages the values of each group, in first-seen order', () => {
      const g = groupMeans([1, 2, 3, 4, 6], ['a', 'b', 'a', 'c', 'b']);
      assert.deepEqual(Object.keys(g), ['a', 'b', 'c']);
      assert.deepEqual(g, { a: { n: 2, mean: 2 }, b: { n: 2, mean: 4 }, c: { n: 1, mean: 4 } });
    });
    it('puts the named groups first and gives an empty one n 0, mean 0', () => {
      const g = groupMeans([1, 2, 3], ['a', 'b', 'c'], ['c', 'z']);
      assert.deepEqual(Object.keys(g), ['c', 'z', 'a', 'b']);
      assert.deepEqual(g.z, { n: 0, mean: 0 });
      assert.deepEqual(g.c, { n: 1, mean: 3 });
      assert.deepEqual(groupMeans([], []), {});
    });
    it('rejects values and groups of different lengths', () => {
      assert.throws(() => groupMeans([1, 2], ['a']), RangeError);
    });
  });

  describe('column', () => {
    it('takes one column of a row-major table', () => {
      assert.deepEqual(Array.from(column([1, 2, 3, 4, 5, 6], 3, 0)), [1, 4]);
      assert.deepEqual(Array.from(column([1, 2, 3, 4, 5, 6], 3, 2)), [3, 6]);
      assert.deepEqual(Array.from(column([1, 2, 3, 4, 5, 6], 2, 1)), [2, 4, 6]);
      assert.equal(column([], 4, 0).length, 0);
    });
    it('rejects a column outside the stride or a ragged table', () => {
      assert.throws(() => column([1, 2, 3], 3, 3), RangeError);
      assert.throws(() => column([1, 2, 3], 3, -1), RangeError);
      assert.throws(() => column([1, 2, 3, 4, 5], 3, 0), RangeError);
      assert.throws(() => column([1, 2], 0, 0), RangeError);
    });
    it('gives per-objective NDCG: a list can be ideal for one objective and not another', () => {
      // 3 items x 2 objectives, interleaved as trueProbabilities writes them.
      const probs = Float32Array.from([0.1, 0.8, 0.4, 0.2, 0.2, 0.1]);
      const p0 = column(probs, 2, 0); // [0.1, 0.4, 0.2]
      const p1 = column(probs, 2, 1); // [0.8, 0.2, 0.1]
      const list = [0, 1];
      // Objective 0: (0.1 + 0.4 / log2 3) / (0.4 + 0.2 / log2 3) = 0.6696718
      close(ndcgAt(list.map((r) => p0[r]), p0, 2), (0.1 + 0.4 / L3) / (0.4 + 0.2 / L3), 1e-6);
      close(ndcgAt(list.map((r) => p0[r]), p0, 2), 0.6696718, 1e-6);
      // Objective 1: the list is its oracle's top 2.
      close(ndcgAt(list.map((r) => p1[r]), p1, 2), 1, 1e-9);
    });
  });

  describe('distinctCount', () => {
    it('counts distinct values among the first k', () => {
      assert.equal(distinctCount(['a', 'b', 'a', 'c']), 3);
      assert.equal(distinctCount(['a', 'b', 'a', 'c'], 2), 2);
      assert.equal(distinctCount(['a', 'b', 'a', 'c'], 3), 2);
      assert.equal(distinctCount([4, 4, 4], 10), 1);
      assert.equal(distinctCount([]), 0);
    });
  });

  describe('maxBrandRun', () => {
    it('is the longest run of consecutive equal values', () => {
      assert.equal(maxBrandRun(['a', 'a', 'b', 'a']), 2);
      assert.equal(maxBrandRun(['x', 'x', 'x']), 3);
      assert.equal(maxBrandRun(['a', 'b', 'b', 'b', 'a', 'a']), 3);
      assert.equal(maxBrandRun(['a', 'b', 'a', 'b']), 1);
      assert.equal(maxBrandRun(['a']), 1);
      assert.equal(maxBrandRun([]), 0);
    });
  });

  it('mean is 0 for an empty array', () => {
    assert.equal(mean([]), 0);
    assert.equal(mean([1, 2, 6]), 3);
  });

  describe('meanInterval', () => {
    it('is mean -/+ 1.96 sd / sqrt(n) with the n - 1 sample deviation', () => {
      // [1, 2, 3, 4]: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5,
      // sd = sqrt(5 / 3) = 1.2909944, stderr = sd / 2 = 0.6454972
      const i = meanInterval([1, 2, 3, 4]);
      close(i.mean, 2.5);
      close(i.stderr, 0.6454972244, 1e-9);
      close(i.lo, 2.5 - 1.96 * 0.6454972244, 1e-9);
      close(i.hi, 3.7651745598, 1e-9);
      assert.equal(i.n, 4);
    });
    it('takes another z', () => {
      const i = meanInterval([1, 2, 3, 4], 1);
      close(i.hi - i.mean, 0.6454972244, 1e-9);
    });
    it('has no spread below two values, and is all zeros when empty', () => {
      assert.deepEqual(meanInterval([7]), { mean: 7, stderr: 0, lo: 7, hi: 7, n: 1 });
      assert.deepEqual(meanInterval([]), { mean: 0, stderr: 0, lo: 0, hi: 0, n: 0 });
      assert.deepEqual(meanInterval([3, 3, 3]), { mean: 3, stderr: 0, lo: 3, hi: 3, n: 3 });
    });
  });

  describe('pairedDifference', () => {
    it('is the interval of the per-pair differences', () => {
      // differences [2, 3]: mean 2.5, sd sqrt(0.5), stderr 0.5, interval 2.5 -/+ 0.98
      const d = pairedDifference([3, 5], [1, 2]);
      close(d.mean, 2.5);
      close(d.stderr, 0.5, 1e-12);
      close(d.lo, 1.52, 1e-12);
      close(d.hi, 3.48, 1e-12);
    });
    it('rejects unpaired input', () => {
      assert.throws(() => pairedDifference([1, 2], [1]), RangeError);
    });
  });

  describe('bootstrapRatio', () => {
    it('resamples pairs with the given generator and takes percentiles', () => {
      // n = 2, two resamples: draws 0, 0 -> indices [0, 0] -> 1/1 = 1;
      // draws 0.6, 0.6 -> indices [1, 1] -> 3/1 = 3. Sorted [1, 3]; level
      // 0.95: lo index floor(2 * 0.025) = 0, hi index ceil(2 * 0.975) - 1 = 1.
      const draws = [0, 0, 0.6, 0.6];
      let t = 0;
      const r = bootstrapRatio([1, 3], [1, 1], () => draws[t++ % draws.length], 2);
      assert.deepEqual(r, { ratio: 2, lo: 1, hi: 3 });
      assert.equal(t, 4);
    });
    it('is exact for proportional data and 0 where the denominator sums to 0', () => {
      let x = 0.123;
      const rnd = () => (x = (x * 9301 + 0.4927) % 1);
      const r = bootstrapRatio([2, 4, 6, 8], [1, 2, 3, 4], rnd, 200);
      close(r.ratio, 2, 1e-12);
      close(r.lo, 2, 1e-12);
      close(r.hi, 2, 1e-12);
      assert.deepEqual(bootstrapRatio([1, 2], [0, 0], rnd, 10), { ratio: 0, lo: 0, hi: 0 });
      assert.deepEqual(bootstrapRatio([], [], rnd, 10), { ratio: 0, lo: 0, hi: 0 });
    });
    it('rejects unpaired input and a bad iteration count', () => {
      assert.throws(() => bootstrapRatio([1], [1, 2], Math.random), RangeError);
      assert.throws(() => bootstrapRatio([1], [1], Math.random, 0), RangeError);
    });
  });

  describe('shareByPosition and pooledShare', () => {
    it('divides by the lists that reach each position', () => {
      const s = shareByPosition([[1, 0, 1], [0, 0], [1]], 4);
      assert.deepEqual(s.count, [3, 2, 1, 0]);
      assert.deepEqual(s.share, [2 / 3, 0, 1, 0]);
      // positions 0-1: (2 + 0) / (3 + 2); all: 3 / 6
      close(pooledShare(s, 0, 2), 0.4);
      close(pooledShare(s, 0, 4), 0.5);
      assert.equal(pooledShare(s, 3, 4), 0);
      assert.deepEqual(shareByPosition([[1, 1, 1]], 2), { share: [1, 1], count: [1, 1] });
    });
  });

  it('countWhere counts matches among the first k', () => {
    assert.equal(countWhere([1, 2, 3, 4, 5], (x) => x % 2 === 1, 3), 2);
    assert.equal(countWhere([1, 2, 3, 4, 5], (x) => x % 2 === 1), 3);
    assert.equal(countWhere(['a', 'b'], (x) => x === 'a', 10), 1);
    assert.equal(countWhere([], () => true), 0);
  });

  describe('searchGrid', () => {
    it('spans nprobe from 1 to nlist around the bundle default for IVF', () => {
      assert.deepEqual(searchGrid({ factory: 'IVF1024,Flat', nprobe: 128 }).map((s) => s.nprobe), [1, 4, 16, 64, 128, 256, 1024]);
      assert.deepEqual(searchGrid({ factory: 'IVF4096,Flat', nprobe: 512 }).map((s) => s.nprobe), [1, 4, 16, 64, 256, 512, 1024, 4096]);
      assert.deepEqual(searchGrid({ factory: 'IVF64,Flat', nprobe: 8 }).map((s) => s.nprobe), [1, 4, 8, 16, 64]);
    });
    it('spans efSearch for HNSW and has one exact setting for Flat', () => {
      assert.deepEqual(searchGrid({ factory: 'HNSW32', efSearch: 100 }).map((s) => s.efSearch), [16, 32, 64, 100, 128, 256, 512]);
      assert.deepEqual(searchGrid({ factory: 'Flat' }), [{}]);
      assert.equal(searchLabel({ nprobe: 4 }), 'nprobe 4');
      assert.equal(searchLabel({ efSearch: 64 }), 'efSearch 64');
      assert.equal(searchLabel({}), 'exact');
    });
  });

  describe('svg and Pareto helpers', () => {
    it('nice ticks cover the range with round steps', () => {
      assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
      assert.deepEqual(niceTicks(0.12, 0.68, 5), [0, 0.2, 0.4, 0.6, 0.8]);
      assert.deepEqual(niceTicks(0.12, 0.68, 10), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
      const t = niceTicks(3, 3);
      assert.ok(t[0] < 3 && t[t.length - 1] > 3);
    });
    it('renders a well-formed SVG with every series and a right axis', () => {
      const svg = renderLinePlot({
        title: 'a <b> & c',
        xLabel: 'x',
        yLabel: 'y',
        y2Label: 'ms',
        series: [
          { name: 's1', points: [{ x: 0, y: 0.5, label: 'p' }, { x: 1, y: 0.7 }] },
          { name: 's2', axis: 'right', points: [{ x: 0, y: 2 }, { x: 1, y: 9 }] },
        ],
      });
      assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.match(svg, /<\/svg>\n$/);
      assert.ok(svg.includes('a &lt;b&gt; &amp; c'));
      assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
      assert.ok(svg.includes('s2 (right axis)'));
      assert.ok(!svg.includes('NaN'));
    });
    it('the Pareto front keeps the non-dominated points', () => {
      assert.deepEqual(paretoFront([{ a: 1, b: 1 }, { a: 2, b: 0 }, { a: 0.5, b: 0.5 }, { a: 1, b: 1 }]), [true, true, false, true]);
    });
  });
});
