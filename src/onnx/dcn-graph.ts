// The DCN-v2 forward pass of native/dcn.cc as an ONNX graph, with the same
// weights (PyTorch nn.Linear layout, [out, in]) and the same function:
//
//   cross:  x_{l+1} = x0 * (W_l x_l + b_l) + x_l    (or U_l (V_l x_l) + b_l)
//   deep:   ReLU MLP on x_L (stacked) or on x0 (parallel)
//   heads:  sigmoid(W_h [x_L, h] + b_h) (parallel) / sigmoid(W_h h + b_h)
//
// Every linear map is a Gemm with transB = 1, so the weights are stored as
// they are and ONNX Runtime pre-packs them once per session.
//
// Two input formulations, both with a dynamic batch dimension:
//   'x0'    x0 [B, D]: the caller tiles the user features into every row
//           (the fastest for ONNX Runtime: one plain GEMM per layer);
//   'split' user [1, Du] + items [B, D - Du]: the layers that read x0
//           compute W_u u + b once ([1, out]) and add it to W_i items, like
//           the native model; x0 itself (for x0 * y) is rebuilt with
//           Expand + Concat.
import type { DcnShape, DcnWeights } from '../native/dcn';
import { GraphBuilder, attr } from './graph-builder';

export type DcnOnnxInput = 'x0' | 'split';

export interface DcnOnnxOptions {
  /** Default 'x0'. 'split' needs shape.userDim > 0. */
  input?: DcnOnnxInput;
  /** Name of the symbolic batch dimension (default 'batch'). */
  batchDim?: string;
}

/** Columns [from, to) of a row-major [rows, cols] matrix. */
function columns(w: Float32Array, rows: number, cols: number, from: number, to: number): Float32Array {
  const out = new Float32Array(rows * (to - from));
  for (let r = 0; r < rows; r++) out.set(w.subarray(r * cols + from, r * cols + to), r * (to - from));
  return out;
}

function need(name: string, a: Float32Array | undefined, len: number): Float32Array {
  if (a === undefined) throw new Error(`${name} is missing`);
  if (a.length !== len) throw new RangeError(`${name} has ${a.length} values, expected ${len}`);
  return a;
}

/** y = x0 W^T + b for a map reading x0 ([out, D] weight). */
type LinearOnX0 = (name: string, w: Float32Array, b: Float32Array | null, out: number) => string;

interface Ops {
  gemm(x: string, w: string, b: string | null): string;
  weight(name: string, a: Float32Array, out: number, inp: number): string;
  bias(name: string, a: Float32Array, out: number): string;
}

/**
 * The graph's input: x0 [B, D] ('x0'), or the user row and the item rows
 * ('split', x0 built on first use), and how a map reading x0 is multiplied.
 */
function graphInput(g: GraphBuilder, mode: 'x0' | 'split', batch: string, D: number, Du: number, { gemm, weight, bias }: Ops): { x0: () => string; linearOnX0: LinearOnX0 } {
  if (mode === 'x0') {
    const x = g.input('x0', [batch, D]);
    return {
      x0: () => x,
      linearOnX0: (name, w, b, out) => gemm(x, weight(`${name}.weight`, w, out, D), b === null ? null : bias(`${name}.bias`, b, out)),
    };
  }
  const user = g.input('user', [1, Du]);
  const items = g.input('items', [batch, D - Du]);
  let x: string | undefined;
  const x0 = (): string => {
    if (x === undefined) {
      const rows = g.op('Shape', [items], { start: attr.int(0), end: attr.int(1) });
      const tileShape = g.op('Concat', [rows, g.initializerInt64('one', [1])], { axis: attr.int(0) });
      x = g.op('Concat', [g.op('Expand', [user, tileShape]), items], { axis: attr.int(1) });
    }
    return x;
  };
  const linearOnX0: LinearOnX0 = (name, w, b, out) => {
    const wu = weight(`${name}.weight_user`, columns(w, out, D, 0, Du), out, Du);
    const wi = weight(`${name}.weight_items`, columns(w, out, D, Du, D), out, D - Du);
    const ub = gemm(user, wu, b === null ? null : bias(`${name}.bias`, b, out)); // [1, out]
    return g.op('Gemm', [items, wi, ub], { transB: attr.int(1) });
  };
  return { x0, linearOnX0 };
}

/** Serialises the DCN-v2 model as ONNX: inputs per `opts.input`, output `probs` [B, heads]. */
export function buildDcnOnnx(shape: DcnShape, weights: DcnWeights, opts: DcnOnnxOptions = {}): Uint8Array {
  const mode = opts.input ?? 'x0';
  const batch = opts.batchDim ?? 'batch';
  const D = shape.inputDim;
  const Du = shape.userDim;
  const r = shape.crossRank;
  if (mode === 'split' && Du <= 0) throw new RangeError("input 'split' needs shape.userDim > 0");
  if (weights.cross.length !== shape.crossLayers) throw new RangeError('weights.cross does not match shape.crossLayers');
  if (weights.mlp.length !== shape.mlp.length) throw new RangeError('weights.mlp does not match shape.mlp');

  const g = new GraphBuilder('dcn_v2');
  const gemm = (x: string, w: string, b: string | null): string =>
    g.op('Gemm', b === null ? [x, w] : [x, w, b], { transB: attr.int(1) });
  const weight = (name: string, a: Float32Array, out: number, inp: number) => g.initializer(name, a, [out, inp]);
  const bias = (name: string, a: Float32Array, out: number) => g.initializer(name, need(name, a, out), [out]);

  const { x0, linearOnX0 } = graphInput(g, mode, batch, D, Du, { gemm, weight, bias });

  // Cross network (xc === null: x_L is still x0).
  let xc: string | null = null;
  for (let l = 0; l < shape.crossLayers; l++) {
    const c = weights.cross[l];
    const name = `cross.${l}`;
    let y: string;
    if (r === 0) {
      const w = need(`${name}.weight`, c.weight, D * D);
      y =
        xc === null
          ? linearOnX0(name, w, c.bias, D)
          : gemm(xc, weight(`${name}.weight`, w, D, D), bias(`${name}.bias`, c.bias, D));
    } else {
      const v = need(`${name}.v`, c.v, r * D);
      const u = need(`${name}.u`, c.u, D * r);
      const low = xc === null ? linearOnX0(`${name}.V`, v, null, r) : gemm(xc, weight(`${name}.V.weight`, v, r, D), null);
      y = gemm(low, weight(`${name}.U.weight`, u, D, r), bias(`${name}.bias`, c.bias, D));
    }
    xc = g.op('Add', [g.op('Mul', [x0(), y]), xc ?? x0()]);
  }
  const xL = (): string => xc ?? x0();

  // Deep network.
  const parallel = shape.structure === 'parallel';
  const deepOnX0 = parallel || xc === null;
  let h = '';
  let inDim = D;
  for (let j = 0; j < shape.mlp.length; j++) {
    const m = weights.mlp[j];
    const out = shape.mlp[j];
    const name = `mlp.${j}`;
    const w = need(`${name}.weight`, m.weight, out * inDim);
    const z =
      j === 0 && deepOnX0
        ? linearOnX0(name, w, m.bias, out)
        : gemm(j === 0 ? xL() : h, weight(`${name}.weight`, w, out, inDim), bias(`${name}.bias`, m.bias, out));
    h = g.op('Relu', [z]);
    inDim = out;
  }

  // Heads.
  let headX = h;
  if (shape.mlp.length === 0) {
    headX = xL();
    inDim = D;
  } else if (parallel) {
    headX = g.op('Concat', [xL(), h], { axis: attr.int(1) });
    inDim = D + inDim;
  }
  const H = shape.heads;
  const hw = weight('heads.weight', need('heads.weight', weights.heads.weight, H * inDim), H, inDim);
  const logits = gemm(headX, hw, bias('heads.bias', weights.heads.bias, H));
  g.output(g.op('Sigmoid', [logits], {}, 'probs'), [batch, H]);

  return g.serialize({
    docString: `DCN-v2 (${shape.structure}, ${shape.crossLayers} cross layers, rank ${r}, mlp [${shape.mlp}], ${H} heads), input '${mode}'`,
    metadata: { model: 'dcn-v2', input: mode, inputDim: String(D), userDim: String(Du) },
  });
}
