// Seen filter: impressions within the ttl remove a candidate, older ones do not.
import * as assert from 'node:assert/strict';
import { demoteSeen, filterSeen } from '../../../src/engine/policy/seen-filter';
import { mulberry32 } from '../../../src/reference/random';

const HOUR = 3600 * 1000;
const NOW = 1_700_000_000_000;

describe('policy: filterSeen', () => {
  it('removes candidates seen within the ttl and keeps the rest, in input order', () => {
    const rows = Int32Array.of(40, 41, 42, 43, 44, 45);
    const seen = new Map([
      [41, NOW - HOUR], // recent
      [42, NOW - 25 * HOUR], // older than ttl: no longer counts
      [43, NOW - 24 * HOUR], // exactly ttl old: still counts
      [45, NOW + 1000], // future stamp: counts
      [7, NOW], // not a candidate
    ]);
    const { keep, removed } = filterSeen(rows, seen, NOW, 24 * HOUR);
    assert.deepEqual(Array.from(keep), [0, 2, 4]);
    assert.deepEqual(Array.from(removed), [1, 3, 5]);
    assert.ok(keep instanceof Int32Array && removed instanceof Int32Array);
  });

  it('the same impression stops counting as time passes', () => {
    const rows = Int32Array.of(1);
    const seen = new Map([[1, NOW]]);
    assert.equal(filterSeen(rows, seen, NOW + HOUR, 2 * HOUR).removed.length, 1);
    assert.equal(filterSeen(rows, seen, NOW + 3 * HOUR, 2 * HOUR).removed.length, 0);
  });

  it('keep and removed partition the positions on random inputs', () => {
    const rng = mulberry32(3);
    for (let trial = 0; trial < 50; trial++) {
      const n = Math.floor(rng() * 40);
      const rows = Int32Array.from({ length: n }, () => Math.floor(rng() * 30));
      const seen = new Map<number, number>();
      for (let r = 0; r < 30; r++) if (rng() < 0.5) seen.set(r, NOW - rng() * 10 * HOUR);
      const { keep, removed } = filterSeen(rows, seen, NOW, 5 * HOUR);
      assert.equal(keep.length + removed.length, n);
      const expectRemoved = [...rows.keys()].filter((i) => seen.has(rows[i]) && NOW - seen.get(rows[i])! <= 5 * HOUR);
      assert.deepEqual(Array.from(removed), expectRemoved);
      assert.deepEqual(Array.from(keep), [...rows.keys()].filter((i) => !expectRemoved.includes(i)));
    }
  });

  it('demoteSeen pushes seen candidates below unseen ones instead of dropping them', () => {
    const rows = Int32Array.of(1, 2, 3);
    const out = demoteSeen(rows, Float32Array.of(0.9, 0.5, 0.1), new Map([[1, NOW]]), NOW, HOUR);
    assert.equal(out.length, 3);
    assert.ok(out[0] < out[2] && out[1] === 0.5);
    assert.equal(demoteSeen(rows, Float32Array.of(0.8, 0.5, 0.1), new Map([[1, NOW]]), NOW, HOUR, 0.5)[0], Math.fround(0.4));
  });

  it('rejects a negative ttl and a non-finite now', () => {
    assert.throws(() => filterSeen(Int32Array.of(1), new Map(), NOW, -1), RangeError);
    assert.throws(() => filterSeen(Int32Array.of(1), new Map(), Infinity, 1), RangeError);
  });
});
