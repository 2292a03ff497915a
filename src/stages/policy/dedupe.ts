// Rule: walk the candidates in input order (decreasing score) and drop one when
//  - its catalog content hash equals that of a candidate already kept
//    ('duplicate-content'), or
//  - its embedding has cosine >= threshold (default 0.995) with the embedding of
//    a candidate already kept ('near-duplicate').
// So the first of a duplicate group is kept, and a candidate is compared only
// with kept ones (a chain a ~ b ~ c where a !~ c keeps a and c). Cosines are
// dot / (|x| |y|), computed natively (duplicateFlags); a zero embedding is
// never a near-duplicate. A threshold above 1 switches the embedding test off.
import { duplicateFlags } from '../../native/diversity';

export type DedupeReason = 'duplicate-content' | 'near-duplicate';

/** Kept and removed positions (input order); reasons[j] says why removed[j] went. */
export interface DedupeResult {
  keep: Int32Array;
  removed: Int32Array;
  reasons: DedupeReason[];
}

export const NEAR_DUPLICATE_COSINE = 0.995;

/**
 * Drops content duplicates and near-duplicate embeddings (see the file header).
 * contentHash: one code per catalog row; embeddings: catalog rows x dim.
 */
export function dedupe(
  rows: Int32Array,
  contentHash: Int32Array,
  embeddings: Float32Array,
  dim: number,
  threshold: number = NEAR_DUPLICATE_COSINE,
): DedupeResult {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be an integer >= 1, got ${dim}`);
  if (embeddings.length % dim !== 0) throw new RangeError(`embeddings length ${embeddings.length} is not a multiple of dim ${dim}`);
  const nrows = embeddings.length / dim;
  if (contentHash.length !== nrows) throw new RangeError(`contentHash has ${contentHash.length} rows, embeddings ${nrows}`);
  if (typeof threshold !== 'number' || Number.isNaN(threshold)) throw new RangeError(`threshold must be a number, got ${threshold}`);
  const n = rows.length;
  for (let i = 0; i < n; i++) {
    if (!(rows[i] >= 0 && rows[i] < nrows)) throw new RangeError(`rows[${i}] = ${rows[i]} is outside the catalog [0, ${nrows})`);
  }
  const flags = duplicateFlags(embeddings, dim, rows, contentHash, threshold);
  const keep: number[] = [];
  const removed: number[] = [];
  const reasons: DedupeReason[] = [];
  for (let i = 0; i < n; i++) {
    if (flags[i] === 0) keep.push(i);
    else {
      removed.push(i);
      reasons.push(flags[i] === 1 ? 'duplicate-content' : 'near-duplicate');
    }
  }
  return { keep: Int32Array.from(keep), removed: Int32Array.from(removed), reasons };
}
