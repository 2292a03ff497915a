// Shared assertions for the native-core tests.
import * as assert from 'node:assert/strict';

/** |a - e| <= atol + rtol * |e| elementwise, with the first offending index in the message. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-4,
  atol = 1e-6,
  what = 'values',
): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      assert.fail(`${what}[${i}]: got ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

/** Plain arrays for readable deepEqual diffs of typed arrays. */
export function list(a: ArrayLike<number> | ArrayLike<bigint>): (number | bigint)[] {
  return Array.from(a as ArrayLike<number | bigint>);
}

/** Largest and second-largest of the finite entries of v (NaN and -Infinity skipped). */
export function topTwo(v: ArrayLike<number>): { best: number; second: number; at: number } {
  let best = -Infinity;
  let second = -Infinity;
  let at = -1;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (!Number.isFinite(x)) continue;
    if (x > best) {
      second = best;
      best = x;
      at = i;
    } else if (x > second) {
      second = x;
    }
  }
  return { best, second, at };
}
