// MMR, DPP and candidate scoring in plain TypeScript: the reference for
// native/diversity.cc and the no-addon baseline. Float64 throughout.
//
// Similarity is the cosine of the candidates' embedding rows; a zero row has
// cosine 0 with every other candidate and 1 with itself. Ties between
// candidates go to the lower position, as in the native kernels.
import type { CandidateSet } from '../../src/native/diversity';

/** Candidate rows L2-normalised into a contiguous [K, dim] buffer; zero rows stay zero. */
function normalizedRows(c: CandidateSet): { x: Float64Array; zero: Uint8Array } {
  const { embeddings, dim, rows } = c;
  const K = rows.length;
  const x = new Float64Array(K * dim);
  const zero = new Uint8Array(K);
  for (let i = 0; i < K; i++) {
    const src = rows[i] * dim;
    if (rows[i] < 0 || src + dim > embeddings.length) throw new RangeError(`rows[${i}] is out of range`);
    let s = 0;
    for (let j = 0; j < dim; j++) s += embeddings[src + j] * embeddings[src + j];
    if (!(s > 0) || !Number.isFinite(s)) {
      zero[i] = 1;
      continue;
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) x[i * dim + j] = embeddings[src + j] * inv;
  }
  return { x, zero };
}

/** Cosine similarity between candidates a and b of a normalizedRows() result. */
function cosine(x: Float64Array, zero: Uint8Array, dim: number, a: number, b: number): number {
  if (a === b) return 1;
  if (zero[a] || zero[b]) return 0;
  let s = 0;
  for (let j = 0, oa = a * dim, ob = b * dim; j < dim; j++) s += x[oa + j] * x[ob + j];
  return s;
}

/** Inner product of `query` with each candidate row (float64 sums, rounded to float32). */
export function scoreRowsReference(embeddings: Float32Array, dim: number, rows: Int32Array, query: Float32Array): Float32Array {
  const out = new Float32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const off = rows[i] * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += query[j] * embeddings[off + j];
    out[i] = s;
  }
  return out;
}

/**
 * MMR score of every candidate given the already picked positions:
 * lambda * rel_i - (1 - lambda) * max_{j in picked} cos(i, j) (no penalty when
 * nothing is picked yet); -Infinity for picked candidates.
 */
export function mmrStepScores(c: CandidateSet, lambda: number, picked: ArrayLike<number>): Float64Array {
  const { x, zero } = normalizedRows(c);
  const K = c.rows.length;
  const out = new Float64Array(K);
  const taken = new Uint8Array(K);
  for (let t = 0; t < picked.length; t++) taken[picked[t]] = 1;
  for (let i = 0; i < K; i++) {
    if (taken[i]) {
      out[i] = -Infinity;
      continue;
    }
    let pen = picked.length === 0 ? 0 : -Infinity;
    for (let t = 0; t < picked.length; t++) pen = Math.max(pen, cosine(x, zero, c.dim, i, picked[t]));
    out[i] = lambda * c.relevance[i] - (1 - lambda) * pen;
  }
  return out;
}

/** Maximal marginal relevance: min(n, K) positions in pick order. O(n K dim). */
export function mmrReference(c: CandidateSet, n: number, lambda: number): Int32Array {
  const K = c.rows.length;
  const N = Math.min(n, K);
  const dim = c.dim;
  const { x, zero } = normalizedRows(c);
  const maxSim = new Float64Array(K); // only read once something is picked
  const taken = new Uint8Array(K);
  const picked = new Int32Array(N);
  for (let step = 0; step < N; step++) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < K; i++) {
      if (taken[i]) continue;
      const s = lambda * c.relevance[i] - (1 - lambda) * (step === 0 ? 0 : maxSim[i]);
      if (best < 0 || s > bestScore) {
        best = i;
        bestScore = s;
      }
    }
    taken[best] = 1;
    picked[step] = best;
    for (let i = 0; i < K; i++) {
      if (taken[i]) continue;
      const s = cosine(x, zero, dim, i, best);
      maxSim[i] = step === 0 ? s : Math.max(maxSim[i], s);
    }
  }
  return picked;
}

/** Determinant of the m x m row-major matrix `a` (destroyed), by LU with partial pivoting. */
export function determinant(a: Float64Array, m: number): number {
  let det = 1;
  for (let col = 0; col < m; col++) {
    let p = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(a[r * m + col]) > Math.abs(a[p * m + col])) p = r;
    const pivot = a[p * m + col];
    if (pivot === 0) return 0;
    if (p !== col) {
      for (let j = 0; j < m; j++) {
        const t = a[col * m + j];
        a[col * m + j] = a[p * m + j];
        a[p * m + j] = t;
      }
      det = -det;
    }
    det *= pivot;
    for (let r = col + 1; r < m; r++) {
      const f = a[r * m + col] / pivot;
      if (f === 0) continue;
      for (let j = col + 1; j < m; j++) a[r * m + j] -= f * a[col * m + j];
    }
  }
  return det;
}

/** The DPP kernel: q_i = exp(alpha (rel_i - max rel)) and the cosine matrix [K, K]. */
function dppKernel(c: CandidateSet, alpha: number): { q: Float64Array; sim: Float64Array } {
  const K = c.rows.length;
  const { x, zero } = normalizedRows(c);
  let maxRel = -Infinity;
  for (let i = 0; i < K; i++) maxRel = Math.max(maxRel, c.relevance[i]);
  const q = new Float64Array(K);
  for (let i = 0; i < K; i++) q[i] = Math.exp(alpha * (c.relevance[i] - maxRel));
  const sim = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = i; j < K; j++) {
      const s = cosine(x, zero, c.dim, i, j);
      sim[i * K + j] = s;
      sim[j * K + i] = s;
    }
  }
  return { q, sim };
}

/** det(L_S) for the positions in `set`, L_ij = q_i cos(i, j) q_j, computed from scratch. */
function subsetDet(q: Float64Array, sim: Float64Array, K: number, set: ArrayLike<number>, a: Float64Array): number {
  const m = set.length;
  for (let r = 0; r < m; r++) {
    for (let s = 0; s < m; s++) a[r * m + s] = q[set[r]] * sim[set[r] * K + set[s]] * q[set[s]];
  }
  return determinant(a, m);
}

/**
 * Gain det(L_{S+i}) / det(L_S) of every candidate given the picked set S (each
 * determinant from scratch); NaN for picked candidates.
 */
export function dppStepGains(c: CandidateSet, alpha: number, picked: ArrayLike<number>): Float64Array {
  const { q, sim } = dppKernel(c, alpha);
  return gains(q, sim, c.rows.length, Array.from(picked));
}

function gains(q: Float64Array, sim: Float64Array, K: number, picked: number[]): Float64Array {
  const m = picked.length;
  const a = new Float64Array((m + 1) * (m + 1));
  const detS = m === 0 ? 1 : subsetDet(q, sim, K, picked, a);
  const taken = new Uint8Array(K);
  for (const p of picked) taken[p] = 1;
  const set = picked.concat([0]);
  const out = new Float64Array(K);
  for (let i = 0; i < K; i++) {
    if (taken[i]) {
      out[i] = NaN;
      continue;
    }
    set[m] = i;
    out[i] = subsetDet(q, sim, K, set, a) / detS;
  }
  return out;
}

/**
 * Naive greedy MAP of the DPP: at each step add the candidate maximising
 * det(L_{S+i}); stop after n picks, or when the best gain det(L_{S+j}) /
 * det(L_S) is below epsilon (or not positive). O(n^4 K) but obviously right.
 */
export function dppGreedyReference(c: CandidateSet, n: number, alpha: number, epsilon = 1e-6): Int32Array {
  const K = c.rows.length;
  const N = Math.min(n, K);
  if (N === 0) return new Int32Array(0);
  const { q, sim } = dppKernel(c, alpha);
  const picked: number[] = [];
  while (picked.length < N) {
    const g = gains(q, sim, K, picked);
    let best = -1;
    for (let i = 0; i < K; i++) if (!Number.isNaN(g[i]) && (best < 0 || g[i] > g[best])) best = i;
    if (best < 0 || !(g[best] >= epsilon) || g[best] <= 0) break;
    picked.push(best);
  }
  return Int32Array.from(picked);
}
