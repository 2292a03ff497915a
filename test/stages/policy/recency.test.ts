// The recency rule the policy stage applies to impressions (seen TTL) and
// purchases (down-rank window): an event counts while its age is at most the
// window, future stamps count, older ones do not.
import * as assert from 'node:assert/strict';

import { recentMask } from '../../../src/stages/policy/recency';
import { mulberry32 } from '../../oracles/random';

const HOUR = 3600 * 1000;
const NOW = 1_700_000_000_000;

describe('policy: recentMask', () => {
  it('marks candidates with an event within the window, at the boundary included, future stamps included', () => {
    const rows = Int32Array.of(40, 41, 42, 43, 44, 45);
    const times = new Map([
      [41, NOW - HOUR], // recent
      [42, NOW - 25 * HOUR], // older than the window: no longer counts
      [43, NOW - 24 * HOUR], // exactly the window old: still counts
      [45, NOW + 1000], // future stamp: counts
      [7, NOW], // not a candidate
    ]);
    assert.deepEqual(Array.from(recentMask(rows, times, NOW, 24 * HOUR)), [0, 1, 0, 1, 0, 1]);
  });

  it('the same event stops counting as time passes', () => {
    const rows = Int32Array.of(1);
    const times = new Map([[1, NOW]]);
    assert.equal(recentMask(rows, times, NOW + HOUR, 2 * HOUR)[0], 1);
    assert.equal(recentMask(rows, times, NOW + 3 * HOUR, 2 * HOUR)[0], 0);
  });

  it('matches the rule on random inputs', () => {
    const rng = mulberry32(3);
    for (let trial = 0; trial < 50; trial++) {
      const n = Math.floor(rng() * 40);
      const rows = Int32Array.from({ length: n }, () => Math.floor(rng() * 30));
      const times = new Map<number, number>();
      for (let r = 0; r < 30; r++) if (rng() < 0.5) times.set(r, NOW - rng() * 10 * HOUR);
      const expect = Array.from(rows, (r) => (times.has(r) && NOW - times.get(r)! <= 5 * HOUR ? 1 : 0));
      assert.deepEqual(Array.from(recentMask(rows, times, NOW, 5 * HOUR)), expect);
    }
  });

  it('rejects a negative window and a non-finite now', () => {
    assert.throws(() => recentMask(Int32Array.of(1), new Map(), NOW, -1), RangeError);
    assert.throws(() => recentMask(Int32Array.of(1), new Map(), Infinity, 1), RangeError);
  });
});
