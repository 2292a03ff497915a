// The ranker's input layout ('user-item-v1'): x0 = [user part | item part].
//
//   user part (userDim = d + 9): user embedding (d), preferred log price,
//     surface one-hot (home, browse, search, pdp), device one-hot (mobile,
//     desktop, app), constant 1
//   item part (itemDim = d + 4): item embedding (d), standardised log price,
//     the same again (a second slot for a second feature cross), is_new,
//     popularity bias
//
// The user part is the same for every candidate of a request, which is what
// the native DCN-v2's user split exploits.
import { DEVICES, Device, SURFACES, Surface } from './schema';

export const LAYOUT_NAME = 'user-item-v1';

export interface FeatureLayout {
  name: typeof LAYOUT_NAME;
  /** Embedding dimension d. */
  dim: number;
  userDim: number;
  itemDim: number;
}

export function featureLayout(dim: number): FeatureLayout {
  return { name: LAYOUT_NAME, dim, userDim: dim + 9, itemDim: dim + 4 };
}

/** Offsets of the named slots in x0 (item slots are offset by userDim). */
export function slots(l: FeatureLayout) {
  const d = l.dim;
  return {
    userEmb: 0,
    pricePref: d,
    surface: (s: number) => d + 1 + s,
    device: (v: number) => d + 5 + v,
    one: d + 8,
    itemEmb: l.userDim,
    logPrice: l.userDim + d,
    logPrice2: l.userDim + d + 1,
    isNew: l.userDim + d + 2,
    popularity: l.userDim + d + 3,
  };
}

/** The shared user part of x0. */
export function userFeatures(
  l: FeatureLayout,
  userEmb: Float32Array,
  pricePref: number,
  surface: Surface | string,
  device: Device | string,
  out = new Float32Array(l.userDim),
): Float32Array {
  const d = l.dim;
  out.fill(0);
  out.set(userEmb.subarray(0, d), 0);
  out[d] = pricePref;
  // A surface or device outside the layout's vocabulary gets no one-hot bit.
  const si = (SURFACES as readonly string[]).indexOf(surface);
  const di = (DEVICES as readonly string[]).indexOf(device);
  if (si >= 0) out[d + 1 + si] = 1;
  if (di >= 0) out[d + 5 + di] = 1;
  out[d + 8] = 1;
  return out;
}

/** Per-item columns the item part is gathered from (catalog order). */
export interface ItemColumns {
  embeddings: Float32Array;
  logPrice: Float32Array;
  isNew: Uint8Array;
  popularity: Float32Array;
}

/** The item parts of x0 for candidate rows, B x itemDim, into `out`. */
export function gatherItemFeatures(
  l: FeatureLayout,
  cols: ItemColumns,
  rows: Int32Array,
  out = new Float32Array(rows.length * l.itemDim),
): Float32Array {
  const d = l.dim;
  const w = l.itemDim;
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k];
    const o = k * w;
    out.set(cols.embeddings.subarray(i * d, (i + 1) * d), o);
    const lp = cols.logPrice[i];
    out[o + d] = lp;
    out[o + d + 1] = lp;
    out[o + d + 2] = cols.isNew[i];
    out[o + d + 3] = cols.popularity[i];
  }
  return out;
}
