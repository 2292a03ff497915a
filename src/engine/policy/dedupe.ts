// Rule: walk the candidates in input order (decreasing score) and drop one when
//  - its catalog content hash equals that of a candidate already kept
//    ('duplicate-content'), or
//  - its embedding has cosine >= threshold (default 0.995) with the embedding of
//    a candidate already kept ('near-duplicate').
// So the first of a duplicate group is kept, and a candidate is compared only
// with kept ones (a chain a ~ b ~ c where a !~ c keeps a and c). Cosines are
// dot / (|x| |y|) with the dots from the native scoreRows; a zero embedding is
// never a near-duplicate. A threshold above 1 switches the embedding test off.
import { scoreRows } from '../../native/diversity';

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
  const useEmbeddings = threshold <= 1;
  const keptRows = new Int32Array(n);
  const keptNorms = new Float64Array(n);
  const keep = new Int32Array(n);
  const removed = new Int32Array(n);
  const reasons: DedupeReason[] = [];
  const keptHashes = new Set<number>();
  let nk = 0;
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    const hash = contentHash[row];
    if (keptHashes.has(hash)) {
      removed[reasons.length] = i;
      reasons.push('duplicate-content');
      continue;
    }
    const o = row * dim;
    let sq = 0;
    for (let d = 0; d < dim; d++) sq += embeddings[o + d] * embeddings[o + d];
    const norm = Math.sqrt(sq);
    if (useEmbeddings && norm > 0 && nk > 0 && isNearDuplicate(embeddings, dim, keptRows.subarray(0, nk), keptNorms, o, norm, threshold)) {
      removed[reasons.length] = i;
      reasons.push('near-duplicate');
      continue;
    }
    keptHashes.add(hash);
    keptRows[nk] = row;
    keptNorms[nk] = norm;
    keep[nk++] = i;
  }
  return { keep: keep.slice(0, nk), removed: removed.slice(0, reasons.length), reasons };
}

/** Is cos(embedding at offset o, any kept row) >= threshold? */
function isNearDuplicate(
  embeddings: Float32Array,
  dim: number,
  kept: Int32Array,
  keptNorms: Float64Array,
  o: number,
  norm: number,
  threshold: number,
): boolean {
  const dots = scoreRows(embeddings, dim, kept, embeddings.subarray(o, o + dim));
  for (let j = 0; j < kept.length; j++) {
    const nj = keptNorms[j];
    if (nj > 0 && dots[j] >= threshold * norm * nj) return true;
  }
  return false;
}
