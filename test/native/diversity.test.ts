// MMR, DPP and scoreRows: native kernels vs the plain TypeScript references
// (MMR: same greedy; DPP: the naive determinant greedy), edge cases, and
// input checks.
import * as assert from 'node:assert/strict';
import { native } from '../../src/native/binding';
import { CandidateSet, dpp, mmr, scoreRows } from '../../src/native/diversity';
import { topK } from '../../src/native/hap';
import {
  dppGreedyReference,
  dppStepGains,
  mmrReference,
  mmrStepScores,
  scoreRowsReference,
} from '../oracles/diversity';
import { mulberry32, normalArray, permutation, randomInt, Rng, uniformArray } from '../oracles/random';
import { assertClose, list, topTwo } from './helpers';

/** K candidates drawn without repeats from a random catalog of K + extra rows. */
function randomCandidates(rng: Rng, K: number, dim: number, extra = 7): CandidateSet {
  const catalog = K + extra;
  return {
    embeddings: normalArray(rng, catalog * dim),
    dim,
    rows: permutation(rng, catalog).slice(0, K),
    relevance: uniformArray(rng, K, 0, 1),
  };
}

/** Identity rows: candidate i is basis vector i (orthonormal, no rounding anywhere). */
function basisCandidates(K: number, relevance?: Float32Array): CandidateSet {
  const emb = new Float32Array(K * K);
  for (let i = 0; i < K; i++) emb[i * K + i] = 1;
  return { embeddings: emb, dim: K, rows: Int32Array.from({ length: K }, (_, i) => i), relevance: relevance ?? new Float32Array(K).fill(1) };
}

/** Does the reference MMR make every pick by a clear margin (no near-ties)? */
function mmrIsClear(c: CandidateSet, lambda: number, seq: Int32Array): boolean {
  for (let t = 0; t < seq.length; t++) {
    const { best, second } = topTwo(mmrStepScores(c, lambda, seq.subarray(0, t)));
    if (second !== -Infinity && best - second < 1e-4) return false;
  }
  return true;
}

/** Does the naive DPP make every pick, and its stop, by a clear margin? */
function dppIsClear(c: CandidateSet, alpha: number, eps: number, seq: Int32Array, n: number): boolean {
  const steps = Math.min(seq.length + 1, n, c.rows.length);
  for (let t = 0; t < steps; t++) {
    const { best, second } = topTwo(dppStepGains(c, alpha, seq.subarray(0, t)));
    if (Math.abs(best - eps) < 0.01 * eps) return false;
    // With alpha 0 every first gain is exactly 1 (a true tie, to the lowest position).
    const exactTie = t === 0 && alpha === 0;
    if (t < seq.length && !exactTie && second !== -Infinity && best - second <= 1e-3 * best) return false;
  }
  return true;
}

describe('native diversity kernels', () => {
  describe('scoreRows', () => {
    it('matches the reference on random rows (repeats included)', () => {
      const rng = mulberry32(21);
      for (const dim of [1, 7, 8, 64, 100]) {
        const emb = normalArray(rng, 50 * dim);
        const rows = Int32Array.from({ length: 200 }, () => randomInt(rng, 0, 50));
        const q = normalArray(rng, dim);
        assertClose(scoreRows(emb, dim, rows, q), scoreRowsReference(emb, dim, rows, q), 1e-5, 1e-5, `dim ${dim}`);
      }
      assert.equal(scoreRows(new Float32Array(8), 4, new Int32Array(0), new Float32Array(4)).length, 0);
    });

    it('adds weight x bias[row] exactly as a Float32Array += in JavaScript does', () => {
      const rng = mulberry32(23);
      const dim = 64;
      const emb = normalArray(rng, 300 * dim);
      const bias = normalArray(rng, 300);
      const rows = Int32Array.from({ length: 257 }, () => randomInt(rng, 0, 300));
      const q = normalArray(rng, dim);
      for (const weight of [0.37, -2, 0]) {
        const want = scoreRows(emb, dim, rows, q);
        for (let i = 0; i < rows.length; i++) want[i] += weight * bias[rows[i]];
        assert.deepEqual(list(scoreRows(emb, dim, rows, q, { values: bias, weight })), list(want), `weight ${weight}`);
      }
      assert.throws(() => scoreRows(emb, dim, rows, q, { values: bias.subarray(0, 299), weight: 1 }), /bias.values has 299 values, embeddings 300 rows/);
      assert.throws(() => scoreRows(emb, dim, rows, q, { values: bias, weight: NaN }), /bias.weight/);
    });

    it('reads catalog embeddings from a SharedArrayBuffer in place (as CandidateSet documents)', () => {
      const rng = mulberry32(22);
      const emb = new Float32Array(new SharedArrayBuffer(4 * 10 * 16));
      emb.set(normalArray(rng, 160));
      const rows = Int32Array.of(9, 0, 4);
      const q = normalArray(rng, 16);
      assertClose(scoreRows(emb, 16, rows, q), scoreRowsReference(emb, 16, rows, q), 1e-5, 1e-5);
      const c: CandidateSet = { embeddings: emb, dim: 16, rows, relevance: Float32Array.of(0.9, 0.5, 0.1) };
      assert.deepEqual(list(mmr(c, 3, 0.5)), list(mmrReference(c, 3, 0.5)));
      assert.deepEqual(list(dpp(c, 3, 1)), list(dppGreedyReference(c, 3, 1)));
    });
  });

  describe('MMR', () => {
    /** Random sets (sizes drawn in [lo, hi)) until `count` have no near-ties; each must match the reference. */
    const matchesReference = (seed: number, count: number, maxTries: number, K: [number, number], dim: [number, number], n: [number, number], lambdas: number[]) => {
      const rng = mulberry32(seed);
      let checked = 0;
      for (let tries = 0; checked < count && tries < maxTries; tries++) {
        const k = randomInt(rng, K[0], K[1]);
        const c = randomCandidates(rng, k, randomInt(rng, dim[0], dim[1]));
        const picks = randomInt(rng, n[0], n[1]);
        const lambda = lambdas[tries % lambdas.length];
        const want = mmrReference(c, picks, lambda);
        if (!mmrIsClear(c, lambda, want)) continue;
        assert.deepEqual(list(mmr(c, picks, lambda)), list(want), `try ${tries}: K ${k} n ${picks} lambda ${lambda}`);
        checked++;
      }
      assert.equal(checked, count, 'enough inputs without near-ties');
    };

    it('picks the same sequence as the reference on random inputs', () => {
      matchesReference(23, 40, 400, [1, 31], [2, 24], [0, 12], [0, 0.3, 0.5, 0.7, 1]);
    });

    it('picks the same sequence as the reference on larger candidate sets (scores brought up to date lazily)', () => {
      matchesReference(26, 12, 200, [100, 400], [8, 64], [10, 80], [0.3, 0.5, 0.7, 0.9]);
    });

    it('returns min(n, K) distinct positions', () => {
      const c = randomCandidates(mulberry32(24), 12, 8);
      const all = mmr(c, 50, 0.5);
      assert.equal(all.length, 12);
      assert.deepEqual([...all].sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i));
      assert.equal(mmr(c, 0, 0.5).length, 0);
      assert.equal(mmr({ ...c, rows: new Int32Array(0), relevance: new Float32Array(0) }, 5, 0.5).length, 0);
    });

    it('lambda 1 is the relevance order; ties go to the lower position', () => {
      const rng = mulberry32(25);
      const c = randomCandidates(rng, 20, 8);
      c.relevance = Float32Array.from(uniformArray(rng, 20, 0, 5), Math.floor);
      assert.deepEqual(list(mmr(c, 20, 1)), list(topK(c.relevance, 20)));
    });

    it('lambda 0 is pure diversity: first position first, then the least similar', () => {
      // Positions: a, a (duplicate), b orthogonal to a, -a (cosine -1); relevance is ignored.
      const c: CandidateSet = {
        embeddings: Float32Array.of(1, 0, 0, 1, -1, 0),
        dim: 2,
        rows: Int32Array.of(0, 0, 1, 2),
        relevance: Float32Array.of(0, 9, 9, 9),
      };
      assert.deepEqual(list(mmr(c, 4, 0)), [0, 3, 2, 1]);
      assert.deepEqual(list(mmr(c, 4, 0)), list(mmrReference(c, 4, 0)));
    });

    it('all-equal scores resolve to the lowest position', () => {
      // Same relevance and the same embedding for everyone: every step is a full tie.
      const c: CandidateSet = { embeddings: Float32Array.of(0.6, 0.8), dim: 2, rows: new Int32Array(6), relevance: new Float32Array(6).fill(0.5) };
      for (const lambda of [0, 0.5, 1]) assert.deepEqual(list(mmr(c, 6, lambda)), [0, 1, 2, 3, 4, 5], `lambda ${lambda}`);
      assert.deepEqual(list(mmr(basisCandidates(5), 5, 0.5)), [0, 1, 2, 3, 4]);
    });

    it('zero vectors have cosine 0 with the others', () => {
      // Rows: x, 0, x, 0. After x: the zero rows have penalty 0, the duplicate x has 1.
      const c: CandidateSet = { embeddings: Float32Array.of(1, 2, 0, 0), dim: 2, rows: Int32Array.of(0, 1, 0, 1), relevance: Float32Array.of(1, 0.2, 0.9, 0.1) };
      assert.deepEqual(list(mmr(c, 4, 0.5)), [0, 1, 3, 2]);
      assert.deepEqual(list(mmr(c, 4, 0.5)), list(mmrReference(c, 4, 0.5)));
    });

    it('rejects bad input', () => {
      const c = randomCandidates(mulberry32(26), 5, 4);
      assert.throws(() => mmr({ ...c, embeddings: [] as unknown as Float32Array }, 2, 0.5), /embeddings must be a Float32Array/);
      assert.throws(() => mmr({ ...c, dim: 0 }, 2, 0.5), /dim must be an integer/);
      assert.throws(() => mmr({ ...c, dim: 5 }, 2, 0.5), /embeddings length 48 is not a multiple of dim 5/);
      assert.throws(() => mmr({ ...c, rows: Int32Array.of(0, 1, 2, 3, 12) }, 2, 0.5), /rows\[4\] = 12 is out of range \[0, 12\)/);
      assert.throws(() => mmr({ ...c, rows: Int32Array.of(0, -1, 2, 3, 4) }, 2, 0.5), /rows\[1\] = -1 is out of range/);
      assert.throws(() => mmr({ ...c, rows: Float32Array.of(0, 1, 2, 3, 4) as unknown as Int32Array }, 2, 0.5), /rows must be an Int32Array/);
      assert.throws(() => mmr({ ...c, relevance: new Float32Array(4) }, 2, 0.5), /relevance must have length 5/);
      assert.throws(() => mmr({ ...c, relevance: Float32Array.of(0, 0, NaN, 0, 0) }, 2, 0.5), /relevance\[2\] is not finite/);
      assert.throws(() => mmr(c, -1, 0.5), /n must be an integer/);
      assert.throws(() => mmr(c, 2.5, 0.5), /n must be an integer/);
      assert.throws(() => mmr(c, 2, 1.5), /lambda must be a finite number in \[0, 1\]/);
      assert.throws(() => mmr(c, 2, -0.1), /lambda/);
      assert.throws(() => mmr(c, 2, NaN), /lambda/);
    });
  });

  describe('DPP', () => {
    it('picks the same sequence as the naive determinant greedy on random inputs', () => {
      const rng = mulberry32(27);
      let checked = 0;
      let early = 0;
      for (let tries = 0; checked < 40 && tries < 400; tries++) {
        const K = randomInt(rng, 1, 31);
        // Mostly dim >= n (no early stop), sometimes dim < n (the kernel's rank runs out).
        const dim = tries % 4 === 0 ? randomInt(rng, 2, 6) : randomInt(rng, 10, 24);
        const c = randomCandidates(rng, K, dim);
        const n = randomInt(rng, 0, 11);
        const alpha = [0, 0.5, 1, 3][randomInt(rng, 0, 4)];
        const eps = tries % 3 === 0 ? 0.05 : 1e-6;
        const want = dppGreedyReference(c, n, alpha, eps);
        if (!dppIsClear(c, alpha, eps, want, n)) continue;
        assert.deepEqual(list(dpp(c, n, alpha, eps)), list(want), `try ${tries}: K ${K} dim ${dim} n ${n} alpha ${alpha} eps ${eps}`);
        if (want.length < Math.min(n, K)) early++;
        checked++;
      }
      assert.equal(checked, 40, 'enough inputs without near-ties');
      assert.ok(early >= 3, `some inputs stop early (${early})`);
    });

    it('stops early on duplicate embeddings', () => {
      const rng = mulberry32(28);
      for (const dim of [3, 16, 64]) {
        const emb = normalArray(rng, 3 * dim);
        // Three distinct rows, each four times.
        const rows = Int32Array.of(0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 1, 2);
        const c: CandidateSet = { embeddings: emb, dim, rows, relevance: uniformArray(rng, 12, 0, 1) };
        for (const alpha of [0, 1]) {
          const got = dpp(c, 10, alpha);
          assert.equal(got.length, 3, `dim ${dim} alpha ${alpha}: got ${list(got)}`);
          assert.deepEqual(new Set(Array.from(got, (p) => rows[p])), new Set([0, 1, 2]));
          assert.deepEqual(list(got), list(dppGreedyReference(c, 10, alpha)));
        }
      }
    });

    it('orthonormal candidates with equal relevance come out in position order', () => {
      assert.deepEqual(list(dpp(basisCandidates(6), 6, 1)), [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(list(dpp(basisCandidates(6), 3, 0)), [0, 1, 2]);
      // With distinct relevance the order is by relevance (orthogonal: gain = q_i^2).
      const rel = Float32Array.of(0.1, 0.5, 0.3, 0.9, 0.7, 0.2);
      assert.deepEqual(list(dpp(basisCandidates(6, rel), 6, 2)), [3, 4, 1, 2, 5, 0]);
    });

    it('zero vectors are orthogonal to everything (and to each other)', () => {
      // Rows: x, 0, x, 0: the duplicate x is dropped, both zero rows are kept.
      const c: CandidateSet = { embeddings: Float32Array.of(1, 2, 0, 0), dim: 2, rows: Int32Array.of(0, 1, 0, 1), relevance: Float32Array.of(1, 0.9, 0.8, 0.7) };
      assert.deepEqual(list(dpp(c, 4, 1)), [0, 1, 3]);
      assert.deepEqual(list(dpp(c, 4, 1)), list(dppGreedyReference(c, 4, 1)));
    });

    it('handles K = 0, n = 0 and n > K', () => {
      const c = randomCandidates(mulberry32(29), 8, 16);
      assert.equal(dpp(c, 0, 1).length, 0);
      assert.equal(dpp({ ...c, rows: new Int32Array(0), relevance: new Float32Array(0) }, 5, 1).length, 0);
      const all = dpp(c, 100, 1);
      assert.equal(all.length, 8);
      assert.equal(new Set(all).size, 8);
    });

    it('epsilon is relative to the best candidate (q = 1): a high epsilon stops after the first pick', () => {
      const c = randomCandidates(mulberry32(30), 10, 16);
      c.relevance = new Float32Array(10).fill(100); // scale of relevance does not matter
      const first = dpp(c, 10, 1, 0.999999);
      assert.equal(first.length, 1);
      assert.equal(first[0], 0, 'equal relevance: the lowest position');
      assert.equal(dpp(c, 10, 1, 1.5).length, 0, 'epsilon above 1 picks nothing');
    });

    it('rejects bad input', () => {
      const c = randomCandidates(mulberry32(31), 5, 4);
      assert.throws(() => dpp(c, 2, -1), /alpha must be a finite number in \[0, Infinity\]/);
      assert.throws(() => dpp(c, 2, Infinity), /alpha/);
      assert.throws(() => dpp(c, 2, 1, -1e-6), /epsilon/);
      assert.throws(() => dpp(c, 2, 1, NaN), /epsilon/);
      assert.throws(() => dpp(c, -2, 1), /n must be an integer/);
      assert.throws(() => dpp({ ...c, relevance: Float32Array.of(0, Infinity, 0, 0, 0) }, 2, 1), /relevance\[1\] is not finite/);
      assert.throws(() => dpp({ ...c, rows: Int32Array.of(0, 1, 99, 3, 4) }, 2, 1), /rows\[2\] = 99 is out of range/);
      assert.throws(() => scoreRows(c.embeddings, 4, c.rows, new Float32Array(3)), /query must have length 4/);
      assert.throws(() => scoreRows(c.embeddings, 4, c.rows, Float32Array.of(0, NaN, 0, 0)), /query\[1\] is not finite/);
      assert.throws(() => scoreRows(c.embeddings, 4, Int32Array.of(12), new Float32Array(4)), /rows\[0\] = 12 is out of range/);
      assert.throws(() => scoreRows(c.embeddings, 5, c.rows, new Float32Array(5)), /embeddings length 48 is not a multiple of dim 5/);
      assert.throws(() => scoreRows(c.embeddings, -4, c.rows, new Float32Array(4)), /dim must be an integer/);
    });
  });

  describe('raw addon input checks (throw, never crash)', () => {
    const c = randomCandidates(mulberry32(32), 5, 4);
    it('mmr, dpp and scoreRows with bad sizes and values', () => {
      assert.throws(() => native.mmr(c.embeddings, 5, c.rows, c.relevance, 2, 0.5), /embeddings length must be a multiple of dim/);
      assert.throws(() => native.mmr(c.embeddings, 4, Int32Array.of(0, 1, 2, 3, 12), c.relevance, 2, 0.5), /rows\[4\] is out of range \[0, 12\)/);
      assert.throws(() => native.mmr(c.embeddings, 4, Int32Array.of(-5, 1, 2, 3, 4), c.relevance, 2, 0.5), /rows\[0\] is out of range/);
      assert.throws(() => native.mmr(c.embeddings, 4, c.rows, new Float32Array(4), 2, 0.5), /relevance length must equal rows length/);
      assert.throws(() => native.mmr(c.embeddings, 4, c.rows, c.relevance, 2, 2), /lambda must be in \[0, 1\]/);
      assert.throws(() => native.mmr(c.embeddings, 4, c.rows, c.relevance, 2, NaN), /lambda must be finite/);
      assert.throws(() => native.mmr(c.embeddings, 0, c.rows, c.relevance, 2, 0.5), /dim must be an integer/);
      assert.throws(() => native.dpp(c.embeddings, 4, c.rows, Float32Array.of(0, 0, NaN, 0, 0), 2, 1, 1e-6), /relevance\[2\] is not finite/);
      assert.throws(() => native.dpp(c.embeddings, 4, c.rows, c.relevance, 2, -1, 1e-6), /alpha must be >= 0/);
      assert.throws(() => native.dpp(c.embeddings, 4, c.rows, c.relevance, 2, 1, -1), /epsilon must be >= 0/);
      assert.throws(() => native.dpp(c.embeddings, 4, c.rows, c.relevance, -1, 1, 1e-6), /n must be an integer/);
      assert.throws(() => native.dpp(c.embeddings, 4, c.rows as unknown as Float32Array as unknown as Int32Array, c.embeddings, 2, 1, 1e-6), /relevance length must equal rows length/);
      assert.throws(() => native.scoreRows(c.embeddings, 4, c.rows, new Float32Array(5)), /query length must equal dim/);
      assert.throws(() => native.scoreRows(c.embeddings, 4, Int32Array.of(1 << 30), new Float32Array(4)), /rows\[0\] is out of range/);
      assert.throws(() => native.scoreRows(c.embeddings, 4, new Float32Array(2) as unknown as Int32Array, new Float32Array(4)), /rows must be a Int32Array/);
      assert.throws(() => native.scoreRows(c.embeddings, 4, c.rows, new Float32Array(4), new Float32Array(11), 1), /bias must have one value per embedding row/);
      assert.throws(() => native.scoreRows(c.embeddings, 4, c.rows, new Float32Array(4), new Float32Array(12), Infinity), /biasWeight must be finite/);
    });
  });
});
