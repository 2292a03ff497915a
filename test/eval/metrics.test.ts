// The evaluator's metrics against hand-computed examples and their edge cases.
import assert from 'node:assert/strict';

import { dcgAt, distinctCount, maxBrandRun, mean, ndcgAt, recallAt } from '../../src/eval/metrics';
import { paretoFront } from '../../src/eval/run';
import { niceTicks, renderLinePlot } from '../../src/eval/svg';

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
