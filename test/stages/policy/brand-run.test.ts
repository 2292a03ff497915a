// Brand-run limit: hand-worked cases of the paper's rule, a naive reference
// that re-scans from the start after every move, and the run-length guarantee.
import * as assert from 'node:assert/strict';
import { limitBrandRuns, maxBrandRun } from '../../../src/stages/policy/brand-run';
import { mulberry32, Rng } from '../../oracles/random';

const A = 0;
const B = 1;
const C = 2;

/** Rows 0..brands.length-1 in order, with brandOf[row] = brands[row]. */
function list(brands: number[]): { order: Int32Array; brandOf: Int32Array } {
  return { order: Int32Array.from(brands.keys()), brandOf: Int32Array.from(brands) };
}

/** The rule as stated: find the first over-long run anywhere, move its breaker, start again. */
function reference(order: Int32Array, brandOf: Int32Array, limit: number): number[] {
  const out = Array.from(order);
  for (;;) {
    let p = -1;
    for (let q = 0, run = 0; q < out.length && p < 0; q++) {
      run = q > 0 && brandOf[out[q]] === brandOf[out[q - 1]] ? run + 1 : 1;
      if (run > limit) p = q;
    }
    if (p < 0) return out;
    const j = out.findIndex((r, q) => q > p && brandOf[r] !== brandOf[out[p]]);
    if (j < 0) return out;
    out.splice(p, 0, ...out.splice(j, 1));
  }
}

/** Skewed random brands: a few dominant ones, some rare ones. */
function randomBrands(rng: Rng, m: number): number[] {
  return Array.from({ length: m }, () => (rng() < 0.6 ? Math.floor(rng() * 2) : 2 + Math.floor(rng() * 6)));
}

describe('policy: limitBrandRuns', () => {
  it('moves the first different-brand item to the position that would exceed the limit', () => {
    const { order, brandOf } = list([A, A, A, A, B, C, A]);
    assert.deepEqual(Array.from(limitBrandRuns(order, brandOf, 2)), [0, 1, 4, 2, 3, 5, 6]);
  });

  it('repeats down the list (limit 1)', () => {
    const { order, brandOf } = list([A, A, A, B, B, C]);
    // A A -> A B(3) A A B C -> A B A B(4) A C
    assert.deepEqual(Array.from(limitBrandRuns(order, brandOf, 1)), [0, 3, 1, 4, 2, 5]);
  });

  it('takes the breaker from anywhere later in the list and stops when none is left', () => {
    const { order, brandOf } = list([A, A, A, A, A, B]);
    const out = limitBrandRuns(order, brandOf, 2);
    assert.deepEqual(Array.from(out), [0, 1, 5, 2, 3, 4]);
    assert.equal(maxBrandRun(out, brandOf), 3, 'the all-A tail cannot be fixed');
  });

  it('works on catalog rows (brandOf indexed by row, not position)', () => {
    const brandOf = Int32Array.of(B, A, C, A, A); // rows 0..4
    const out = limitBrandRuns(Int32Array.of(1, 3, 4, 0, 2), brandOf, 2);
    assert.deepEqual(Array.from(out), [1, 3, 0, 4, 2]);
  });

  it('is the identity when limit >= length, on a single brand, and on an empty list; input untouched', () => {
    const rng = mulberry32(5);
    const { order, brandOf } = list(randomBrands(rng, 12));
    const copy = Array.from(order);
    assert.deepEqual(Array.from(limitBrandRuns(order, brandOf, 12)), copy);
    assert.deepEqual(Array.from(limitBrandRuns(order, brandOf, 50)), copy);
    const single = list(new Array(9).fill(C));
    assert.deepEqual(Array.from(limitBrandRuns(single.order, single.brandOf, 2)), Array.from(single.order));
    assert.equal(limitBrandRuns(new Int32Array(0), brandOf, 1).length, 0);
    limitBrandRuns(order, brandOf, 1);
    assert.deepEqual(Array.from(order), copy, 'input not modified');
  });

  it('matches the naive reference on random lists, and only an all-one-brand tail can break the limit', () => {
    const rng = mulberry32(17);
    for (let trial = 0; trial < 400; trial++) {
      const limit = 1 + Math.floor(rng() * 3);
      const { order, brandOf } = list(randomBrands(rng, Math.floor(rng() * 60)));
      const out = limitBrandRuns(order, brandOf, limit);
      assert.deepEqual(Array.from(out), reference(order, brandOf, limit), `trial ${trial}`);
      assert.deepEqual(Array.from(out).sort((a, b) => a - b), Array.from(order), 'a permutation');
      if (maxBrandRun(out, brandOf) > limit) {
        let q = out.length - 1;
        while (q > 0 && brandOf[out[q - 1]] === brandOf[out[q]]) q--;
        const prefix = out.subarray(0, q + limit);
        assert.ok(maxBrandRun(prefix, brandOf) <= limit, `trial ${trial}: an over-long run before the single-brand tail`);
      }
    }
  });

  it('never exceeds the limit when enough other brands exist', () => {
    const rng = mulberry32(23);
    for (let trial = 0; trial < 200; trial++) {
      const limit = 1 + Math.floor(rng() * 3);
      const m = 5 + Math.floor(rng() * 50);
      // m skewed items, then m items of distinct brands: a breaker is always left.
      const brands = randomBrands(rng, m).concat(Array.from({ length: m }, (_, i) => 100 + i));
      const { order, brandOf } = list(brands);
      const out = limitBrandRuns(order, brandOf, limit);
      assert.ok(maxBrandRun(out, brandOf) <= limit, `trial ${trial}`);
      if (maxBrandRun(order, brandOf) <= limit) assert.deepEqual(Array.from(out), Array.from(order), 'nothing to fix');
    }
  });

  it('maxBrandRun measures the longest run; bad limits and rows are rejected', () => {
    const { order, brandOf } = list([A, B, B, B, A, A]);
    assert.equal(maxBrandRun(order, brandOf), 3);
    assert.equal(maxBrandRun(new Int32Array(0), brandOf), 0);
    assert.throws(() => limitBrandRuns(order, brandOf, 0), RangeError);
    assert.throws(() => limitBrandRuns(order, brandOf, 1.5), RangeError);
    assert.throws(() => limitBrandRuns(Int32Array.of(6), brandOf, 1), RangeError);
  });
});
