// MMR and DPP diversity over candidate rows of the shared embedding matrix.
import { native } from './binding';
import { NativeInputError, checkF32, checkI32, checkInt, checkMultiple, checkNumber, checkRows } from './checks';

/** Candidates as row indices into a catalog matrix plus their relevance. */
export interface CandidateSet {
  /** Catalog embeddings, rows * dim floats (may live in a SharedArrayBuffer). */
  embeddings: Float32Array;
  dim: number;
  /** Row of each candidate in `embeddings`. */
  rows: Int32Array;
  /** Relevance of each candidate (same length as rows). */
  relevance: Float32Array;
}

function checkCandidates(c: CandidateSet): void {
  checkF32('embeddings', c.embeddings);
  checkInt('dim', c.dim, 1, 65536);
  const nrows = checkMultiple('embeddings', c.embeddings.length, c.dim);
  checkRows('rows', checkI32('rows', c.rows), nrows);
  checkF32('relevance', c.relevance, c.rows.length); // finiteness: checked natively
}

/**
 * Maximal marginal relevance: picks min(n, K) candidates greedily by
 * lambda * relevance - (1 - lambda) * (max cosine similarity to those already
 * picked). Returns positions into `rows`, in pick order.
 */
export function mmr(c: CandidateSet, n: number, lambda: number): Int32Array {
  checkCandidates(c);
  checkInt('n', n, 0);
  checkNumber('lambda', lambda, 0, 1);
  return native.mmr(c.embeddings, c.dim, c.rows, c.relevance, n, lambda);
}

/**
 * Greedy MAP of a DPP with kernel L_ij = q_i cos(i, j) q_j, q_i = exp(alpha *
 * (rel_i - max rel)). Picks up to n; stops early when the best marginal gain
 * det(L_{S+j}) / det(L_S) is below epsilon (so fewer than n may come back when
 * the rest are near-duplicates of what was picked). Positions into `rows`.
 */
export function dpp(c: CandidateSet, n: number, alpha: number, epsilon = 1e-6): Int32Array {
  checkCandidates(c);
  checkInt('n', n, 0);
  checkNumber('alpha', alpha, 0);
  checkNumber('epsilon', epsilon, 0);
  return native.dpp(c.embeddings, c.dim, c.rows, c.relevance, n, alpha, epsilon);
}

/**
 * Inner product of `query` with each candidate row: the two-tower light score,
 * or an exact search over a small allowed set (pair it with topK). With
 * `bias`, adds bias.weight * bias.values[row] to each (in double precision,
 * rounded once: as `s[i] += weight * values[rows[i]]` on a Float32Array).
 */
export function scoreRows(
  embeddings: Float32Array,
  dim: number,
  rows: Int32Array,
  query: Float32Array,
  bias?: { values: Float32Array; weight: number },
): Float32Array {
  checkF32('embeddings', embeddings);
  checkInt('dim', dim, 1, 65536);
  const nrows = checkMultiple('embeddings', embeddings.length, dim);
  checkRows('rows', checkI32('rows', rows), nrows);
  checkF32('query', query, dim); // finiteness: checked natively
  if (bias === undefined) return native.scoreRows(embeddings, dim, rows, query);
  checkF32('bias.values', bias.values);
  if (bias.values.length < nrows) throw new NativeInputError(`bias.values has ${bias.values.length} values, embeddings ${nrows} rows`);
  checkNumber('bias.weight', bias.weight);
  return native.scoreRows(embeddings, dim, rows, query, bias.values, bias.weight);
}

/**
 * Duplicate flags for candidates in rank order: 0 kept, 1 same content hash as
 * an earlier kept candidate, 2 cosine >= threshold with an earlier kept one
 * (zero vectors never match; a threshold above 1 turns the test off).
 * contentHash has one code per catalog row.
 */
export function duplicateFlags(embeddings: Float32Array, dim: number, rows: Int32Array, contentHash: Int32Array, threshold: number): Uint8Array {
  checkF32('embeddings', embeddings);
  checkInt('dim', dim, 1, 65536);
  const nrows = checkMultiple('embeddings', embeddings.length, dim);
  checkRows('rows', checkI32('rows', rows), nrows);
  checkI32('contentHash', contentHash);
  if (contentHash.length < nrows) throw new NativeInputError(`contentHash has ${contentHash.length} codes, embeddings ${nrows} rows`);
  checkNumber('threshold', threshold);
  return native.dedupe(embeddings, dim, rows, contentHash, threshold);
}
