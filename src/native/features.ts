// The item part of the ranker's input (layout user-item-v1), gathered
// natively from the catalog's columns: the rows are scattered over memory,
// and the native gather requests the next rows while it copies one.
import { native } from './binding';
import { NativeInputError, checkF32, checkI32, checkInt, checkMultiple, checkNumber, checkRows } from './checks';

/** The catalog columns the item features come from (one value per row; embeddings rows x dim). */
export interface ItemFeatureColumns {
  dim: number;
  embeddings: Float32Array;
  logPrice: Float32Array;
  createdAt: Float64Array;
  bias: Float32Array;
}

/**
 * rows.length x (dim + 4) item features into `out` (allocated when not given):
 * [embedding | log price | log price | is new | popularity bias], with is new
 * = createdAt <= now && now - createdAt < newItemMs (as LiveCatalog.isNew).
 * The same values as features/layout.ts gatherItemFeatures. Throws a
 * RangeError naming the catalog row if a gathered value is not finite.
 */
export function gatherItemFeatures(cols: ItemFeatureColumns, rows: Int32Array, now: number, newItemMs: number, out?: Float32Array): Float32Array {
  const dim = checkInt('dim', cols.dim, 1, 65536);
  checkF32('embeddings', cols.embeddings);
  const nrows = checkMultiple('embeddings', cols.embeddings.length, dim);
  checkF32('logPrice', cols.logPrice);
  checkF32('bias', cols.bias);
  if (!(cols.createdAt instanceof Float64Array)) throw new NativeInputError('createdAt must be a Float64Array');
  checkRows('rows', checkI32('rows', rows), nrows);
  checkNumber('now', now);
  checkNumber('newItemMs', newItemMs);
  const need = rows.length * (dim + 4);
  const dst = out ?? new Float32Array(need);
  checkF32('out', dst);
  if (dst.length < need) throw new NativeInputError(`out must hold at least ${need} values`);
  return native.gatherItemFeatures(cols.embeddings, dim, cols.logPrice, cols.createdAt, cols.bias, rows, now, newItemMs, dst);
}
