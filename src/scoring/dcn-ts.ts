// DCN-v2 forward pass in plain TypeScript: the reference for native/dcn.cc and
// the no-addon baseline. One row at a time, float64 accumulation.
//
//   x0 = [user | item]
//   cross:  x_{l+1} = x0 * (W_l x_l + b_l) + x_l        (full W_l [D, D], [out, in])
//           x_{l+1} = x0 * (U_l (V_l x_l) + b_l) + x_l  (low rank U_l [D, r], V_l [r, D])
//   deep:   ReLU MLP on x_L ('stacked') or on x0 ('parallel')
//   heads:  sigmoid(W_h z + b_h), z = h (stacked), [x_L, h] (parallel), x_L (no MLP)
import type { DcnShape, DcnWeights } from '../native/dcn';

/** y[0..out) = W x + b for W [out, in] row-major; b may be omitted (zero). */
function linear(
  w: Float32Array,
  b: Float32Array | undefined,
  x: Float64Array,
  inDim: number,
  outDim: number,
  y: Float64Array,
): void {
  for (let o = 0; o < outDim; o++) {
    const off = o * inDim;
    let s = b === undefined ? 0 : b[o];
    for (let i = 0; i < inDim; i++) s += w[off + i] * x[i];
    y[o] = s;
  }
}

function need(name: string, a: Float32Array | undefined, len: number): Float32Array {
  if (a === undefined || a.length !== len) {
    throw new RangeError(`${name} must be a Float32Array of length ${len}`);
  }
  return a;
}

/** The weights as the forward pass reads them, each tensor's length checked. */
function checkedWeights(shape: DcnShape, weights: DcnWeights) {
  const D = shape.inputDim;
  const r = shape.crossRank;
  const H = shape.heads;
  const cross = weights.cross.map((c, l) =>
    r === 0
      ? { w: need(`cross[${l}].weight`, c.weight, D * D), u: undefined, v: undefined, b: need(`cross[${l}].bias`, c.bias, D) }
      : {
          w: undefined,
          u: need(`cross[${l}].u`, c.u, D * r),
          v: need(`cross[${l}].v`, c.v, r * D),
          b: need(`cross[${l}].bias`, c.bias, D),
        },
  );
  let inDim = D;
  const mlp = weights.mlp.map((m, j) => {
    const layer = { w: need(`mlp[${j}].weight`, m.weight, shape.mlp[j] * inDim), b: need(`mlp[${j}].bias`, m.bias, shape.mlp[j]), in: inDim, out: shape.mlp[j] };
    inDim = shape.mlp[j];
    return layer;
  });
  const hidden = mlp.length === 0 ? 0 : mlp[mlp.length - 1].out;
  const headIn = mlp.length === 0 ? D : shape.structure === 'parallel' ? D + hidden : hidden;
  const headW = need('heads.weight', weights.heads.weight, H * headIn);
  const headB = need('heads.bias', weights.heads.bias, H);
  return { cross, mlp, hidden, headIn, headW, headB };
}

/** Returns B x heads probabilities (row-major) for B = items.length / (inputDim - userDim). */
export function dcnForwardReference(
  shape: DcnShape,
  weights: DcnWeights,
  user: Float32Array,
  items: Float32Array,
): Float32Array {
  const D = shape.inputDim;
  const du = shape.userDim;
  const di = D - du;
  const r = shape.crossRank;
  const H = shape.heads;
  const parallel = shape.structure === 'parallel';
  if (user.length !== du) throw new RangeError(`user must have length ${du}`);
  if (di <= 0 || items.length % di !== 0) throw new RangeError(`items length must be a multiple of ${di}`);
  if (weights.cross.length !== shape.crossLayers) throw new RangeError('weights.cross does not match shape');
  if (weights.mlp.length !== shape.mlp.length) throw new RangeError('weights.mlp does not match shape');

  // Check every tensor once, outside the row loop.
  const { cross, mlp, hidden, headIn, headW, headB } = checkedWeights(shape, weights);

  const B = items.length / di;
  const out = new Float32Array(B * H);
  const x0 = new Float64Array(D);
  const xl = new Float64Array(D);
  const y = new Float64Array(D);
  const low = new Float64Array(Math.max(r, 1));
  let maxHidden = 0;
  for (const m of mlp) maxHidden = Math.max(maxHidden, m.out);
  const h0 = new Float64Array(maxHidden);
  const h1 = new Float64Array(maxHidden);
  const z = new Float64Array(headIn);
  const logits = new Float64Array(H);

  for (let b = 0; b < B; b++) {
    for (let i = 0; i < du; i++) x0[i] = user[i];
    for (let i = 0, off = b * di; i < di; i++) x0[du + i] = items[off + i];
    xl.set(x0);

    for (const c of cross) {
      if (c.w !== undefined) {
        linear(c.w, c.b, xl, D, D, y);
      } else {
        linear(c.v, undefined, xl, D, r, low);
        linear(c.u, c.b, low, r, D, y);
      }
      for (let i = 0; i < D; i++) xl[i] = x0[i] * y[i] + xl[i];
    }

    let h: Float64Array = parallel ? x0 : xl;
    for (let j = 0; j < mlp.length; j++) {
      const m = mlp[j];
      const dst = j % 2 === 0 ? h0 : h1;
      linear(m.w, m.b, h, m.in, m.out, dst);
      for (let i = 0; i < m.out; i++) if (!(dst[i] > 0)) dst[i] = 0;
      h = dst;
    }

    if (mlp.length === 0) {
      z.set(xl);
    } else if (parallel) {
      z.set(xl);
      for (let i = 0; i < hidden; i++) z[D + i] = h[i];
    } else {
      for (let i = 0; i < hidden; i++) z[i] = h[i];
    }
    linear(headW, headB, z, headIn, H, logits);
    for (let k = 0; k < H; k++) out[b * H + k] = 1 / (1 + Math.exp(-logits[k]));
  }
  return out;
}
