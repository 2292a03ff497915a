// Exploration mix (Algorithm 1): epsilon 0 and 1, start position k, source
// exhaustion, no repeats, empirical exploration rate, sampling weights and
// Thompson preference.
import * as assert from 'node:assert/strict';
import { mixExploration, ScoredRows } from '../../../src/stages/policy/exploration';
import { mulberry32, uniformArray } from '../../oracles/random';

/** Rows [first, first + n) with relevance descending from 1. */
function ranked(first: number, n: number): ScoredRows {
  return {
    rows: Int32Array.from({ length: n }, (_, i) => first + i),
    rel: Float32Array.from({ length: n }, (_, i) => 1 - i / (n + 1)),
  };
}

const ORGANIC = ranked(0, 30);
const FRESH = ranked(1000, 10);
const isFresh = (row: number) => row >= 1000;

describe('policy: mixExploration', () => {
  it('epsilon 0: exactly the organic order, no exploration flags', () => {
    const out = mixExploration(ORGANIC, FRESH, 20, 3, 0, mulberry32(1));
    assert.deepEqual(Array.from(out.rows), Array.from(ORGANIC.rows.subarray(0, 20)));
    assert.deepEqual(Array.from(out.exploration), new Array(20).fill(0));
  });

  it('takes organic items by rel (argmax), whatever their input order', () => {
    const organic = { rows: Int32Array.of(5, 6, 7, 8), rel: Float32Array.of(0.2, 0.9, 0.5, 0.9) };
    const out = mixExploration(organic, FRESH, 4, 1, 0, mulberry32(1));
    assert.deepEqual(Array.from(out.rows), [6, 8, 7, 5]);
  });

  it('epsilon 1: every position from k on is fresh while fresh items last, then organic', () => {
    const out = mixExploration(ORGANIC, FRESH, 25, 4, 1, mulberry32(2));
    assert.deepEqual(Array.from(out.rows.subarray(0, 3)), [0, 1, 2]);
    assert.deepEqual(Array.from(out.exploration), [0, 0, 0, ...new Array(10).fill(1), ...new Array(12).fill(0)]);
    assert.deepEqual(Array.from(out.rows.subarray(3, 13)).sort((a, b) => a - b), Array.from(FRESH.rows));
    assert.deepEqual(Array.from(out.rows.subarray(13)), Array.from({ length: 12 }, (_, i) => 3 + i));
  });

  it('exploration picks are fresh, never before k, organic picks keep their order, no row twice', () => {
    const rng = mulberry32(3);
    for (let trial = 0; trial < 200; trial++) {
      const k = 1 + Math.floor(rng() * 8);
      const n = Math.floor(rng() * 45);
      const method = trial % 2 === 0 ? 'epsilon-greedy' : 'thompson';
      const out = mixExploration(ORGANIC, FRESH, n, k, rng(), rng, method, () => ({ alpha: 2, beta: 3 }));
      assert.equal(out.rows.length, Math.min(n, 40));
      assert.equal(new Set(out.rows).size, out.rows.length, 'no repeats');
      let lastOrganic = -1;
      out.rows.forEach((row, p) => {
        assert.equal(out.exploration[p], isFresh(row) ? 1 : 0, `trial ${trial}, position ${p}`);
        assert.equal((out.exploration[p] === 1 ? FRESH : ORGANIC).rows[out.at[p]], row, `trial ${trial}, position ${p}: at[] points at the row in its source`);
        if (isFresh(row) && p + 1 < k) assert.fail(`trial ${trial}: fresh row at position ${p + 1} < k = ${k}`);
        if (!isFresh(row)) {
          assert.ok(row > lastOrganic, 'organic in rel order');
          lastOrganic = row;
        }
      });
    }
  });

  it('the empirical exploration rate from k on is close to epsilon', () => {
    const organic = ranked(0, 200);
    const fresh = ranked(1000, 200);
    for (const epsilon of [0.1, 0.35]) {
      const rng = mulberry32(Math.round(epsilon * 100));
      let flags = 0;
      let slots = 0;
      for (let run = 0; run < 300; run++) {
        const out = mixExploration(organic, fresh, 50, 6, epsilon, rng);
        for (let p = 5; p < 50; p++) flags += out.exploration[p];
        slots += 45;
      }
      const rate = flags / slots;
      assert.ok(Math.abs(rate - epsilon) < 0.015, `epsilon ${epsilon}: rate ${rate}`);
    }
  });

  it('drops fresh rows that are organic (or repeated), and fills from fresh when organic runs out', () => {
    const organic = { rows: Int32Array.of(1, 2), rel: Float32Array.of(0.9, 0.8) };
    const fresh = { rows: Int32Array.of(2, 7, 7, 8), rel: Float32Array.of(0.7, 0.6, 0.6, 0.5) };
    const out = mixExploration(organic, fresh, 10, 5, 0, mulberry32(4));
    assert.deepEqual(Array.from(out.rows.subarray(0, 2)), [1, 2]);
    assert.deepEqual(Array.from(out.rows.subarray(2)).sort(), [7, 8]);
    assert.deepEqual(Array.from(out.exploration), [0, 0, 1, 1]);
    assert.deepEqual(Array.from(out.at.subarray(0, 2)), [0, 1], 'organic positions');
    assert.deepEqual(Array.from(out.at.subarray(2)).sort(), [1, 3], 'the first 7 and the 8 of fresh, not the repeated 7');
    const none = mixExploration({ rows: new Int32Array(0), rel: new Float32Array(0) }, fresh, 3, 1, 0.5, mulberry32(4));
    assert.equal(none.rows.length, 3);
  });

  it('epsilon-greedy samples fresh items proportionally to rel (exp(rel - max) when some rel <= 0)', () => {
    const organic = ranked(0, 5);
    const count = (rel: Float32Array) => {
      const rng = mulberry32(8);
      let second = 0;
      for (let run = 0; run < 4000; run++) {
        if (mixExploration(organic, { rows: Int32Array.of(50, 51), rel }, 1, 1, 1, rng).rows[0] === 51) second++;
      }
      return second / 4000;
    };
    assert.ok(Math.abs(count(Float32Array.of(1, 3)) - 0.75) < 0.03, 'rel 1 : 3');
    assert.ok(Math.abs(count(Float32Array.of(Math.log(3), 0)) - 0.25) < 0.03, 'exp weights 3 : 1');
    assert.ok(Math.abs(count(Float32Array.of(-2, -2 + Math.log(4))) - 0.8) < 0.03, 'exp weights 1 : 4');
  });

  it('thompson prefers fresh items with a better posterior', () => {
    const fresh = { rows: Int32Array.of(60, 61, 62), rel: Float32Array.of(0.5, 0.5, 0.5) };
    const post = new Map([[60, { alpha: 5, beta: 50 }], [61, { alpha: 50, beta: 5 }], [62, { alpha: 20, beta: 20 }]]);
    const rng = mulberry32(9);
    const firsts = new Map<number, number>([[60, 0], [61, 0], [62, 0]]);
    for (let run = 0; run < 500; run++) {
      const out = mixExploration(ranked(0, 5), fresh, 3, 1, 1, rng, 'thompson', (r) => post.get(r)!);
      assert.deepEqual(Array.from(out.rows).sort(), [60, 61, 62]);
      firsts.set(out.rows[0], firsts.get(out.rows[0])! + 1);
      assert.equal(out.rows[1], 62, 'the middle posterior comes second');
    }
    assert.equal(firsts.get(61), 500);
    // Close posteriors: the better one wins more often, the other still gets picked.
    const close = new Map([[60, { alpha: 12, beta: 10 }], [61, { alpha: 10, beta: 12 }], [62, { alpha: 1, beta: 30 }]]);
    let better = 0;
    for (let run = 0; run < 1000; run++) {
      if (mixExploration(ranked(0, 5), fresh, 1, 1, 1, rng, 'thompson', (r) => close.get(r)!).rows[0] === 60) better++;
    }
    assert.ok(better > 600 && better < 900, `better posterior first ${better} / 1000`);
  });

  it('is deterministic for a seeded rng', () => {
    const organic = { rows: Int32Array.from({ length: 40 }, (_, i) => i), rel: uniformArray(mulberry32(1), 40, 0, 1) };
    const a = mixExploration(organic, FRESH, 30, 2, 0.4, mulberry32(12));
    const b = mixExploration(organic, FRESH, 30, 2, 0.4, mulberry32(12));
    assert.deepEqual(Array.from(a.rows), Array.from(b.rows));
  });

  it('rejects bad arguments', () => {
    const rng = mulberry32(1);
    assert.throws(() => mixExploration(ORGANIC, FRESH, 5, 0, 0.1, rng), RangeError);
    assert.throws(() => mixExploration(ORGANIC, FRESH, -1, 1, 0.1, rng), RangeError);
    assert.throws(() => mixExploration(ORGANIC, FRESH, 5, 1, 1.5, rng), RangeError);
    assert.throws(() => mixExploration(ORGANIC, FRESH, 5, 1, 0.1, rng, 'thompson'), TypeError);
    assert.throws(() => mixExploration(ORGANIC, FRESH, 5, 1, 1, rng, 'thompson', () => ({ alpha: 0, beta: 1 })), RangeError);
    assert.throws(() => mixExploration({ rows: Int32Array.of(1), rel: new Float32Array(2) }, FRESH, 5, 1, 0.1, rng), RangeError);
    assert.throws(() => mixExploration({ rows: Int32Array.of(1), rel: Float32Array.of(NaN) }, FRESH, 5, 1, 0.1, rng), RangeError);
  });

  describe('propensities (the impression log)', () => {
    const post = (row: number) => ({ alpha: 1 + (row % 5), beta: 3 });

    it('organic rows: 1 before k and where no draw is made, 1 - epsilon where one is; they leave the page as it is', () => {
      const plain = mixExploration(ORGANIC, FRESH, 12, 4, 0.2, mulberry32(9));
      const out = mixExploration(ORGANIC, FRESH, 12, 4, 0.2, mulberry32(9), 'epsilon-greedy', undefined, { propensities: true });
      assert.deepEqual(out.rows, plain.rows, 'computing them draws nothing from the page\'s generator');
      const thompson = mixExploration(ORGANIC, FRESH, 12, 4, 0.5, mulberry32(9), 'thompson', post);
      assert.deepEqual(mixExploration(ORGANIC, FRESH, 12, 4, 0.5, mulberry32(9), 'thompson', post, { propensities: true }).rows, thompson.rows);
      for (let p = 0; p < 12; p++) {
        if (out.exploration[p] === 1) continue;
        assert.equal(out.propensity![p], p < 3 ? 1 : 0.8, `position ${p + 1}`);
      }
    });

    it('match the frequencies of the page\'s draws: epsilon-greedy and Thompson picks, position by position', () => {
      for (const method of ['epsilon-greedy', 'thompson'] as const) {
        // Position 2 (k = 2) given position 1: how often each row lands there, against its logged propensity.
        const counts = new Map<number, number>();
        const logged = new Map<number, number>();
        const N = 4000;
        for (let t = 0; t < N; t++) {
          const out = mixExploration(ranked(0, 5), ranked(1000, 4), 2, 2, 0.5, mulberry32(1000 + t), method, post, { propensities: true, thompsonDraws: 400 });
          const row = out.rows[1];
          counts.set(row, (counts.get(row) ?? 0) + 1);
          logged.set(row, out.propensity![1]);
        }
        for (const [row, n] of counts) {
          const share = n / N;
          assert.ok(Math.abs(share - logged.get(row)!) < 0.03, `${method}: row ${row} at position 2 in ${share.toFixed(3)} of pages, logged ${logged.get(row)!.toFixed(3)}`);
        }
      }
    });

    it('a fresh row placed because the organic rows ran out: the pick\'s chance alone', () => {
      const out = mixExploration(ranked(0, 1), { rows: Int32Array.of(1000, 1001), rel: Float32Array.of(3, 1) }, 3, 1, 0.5, mulberry32(5), 'epsilon-greedy', undefined, { propensities: true });
      const last = out.propensity![2];
      assert.equal(out.exploration[2], 1);
      assert.ok(last === 1 || Math.abs(last - 0.75) < 1e-12 || Math.abs(last - 0.25) < 1e-12, String(last));
    });
  });
});
