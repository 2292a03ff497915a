// DCN-v2 multi-task ranker (native forward pass). Weights follow PyTorch's
// nn.Linear layout: weight [out, in] row-major, bias [out].
import { native, RawDcnModel } from './binding';
import { NativeInputError, checkF32, checkFinite, checkI32, checkInt } from './checks';
import type { DcnPrecision } from './dcn-precision';

import type { DcnShape } from './dcn-shape';

export type { DcnShape };

export interface LinearWeights {
  weight: Float32Array; // [out, in]
  bias: Float32Array; // [out]
}

export interface CrossWeights {
  /** Full rank: weight [D, D]. */
  weight?: Float32Array;
  /** Low rank: U [D, r] and V [r, D]. */
  u?: Float32Array;
  v?: Float32Array;
  bias: Float32Array; // [D]
}

export interface DcnWeights {
  cross: CrossWeights[];
  mlp: LinearWeights[];
  heads: LinearWeights;
}

/** Width of the heads' input for a shape. */
export function headInputDim(s: DcnShape): number {
  if (s.mlp.length === 0) return s.inputDim;
  const last = s.mlp[s.mlp.length - 1];
  return s.structure === 'parallel' ? s.inputDim + last : last;
}

/** Throws a NativeInputError naming the first invalid field of a shape. */
export function checkShape(s: DcnShape): DcnShape {
  if (typeof s !== 'object' || s === null) throw new NativeInputError('shape must be an object');
  checkInt('shape.inputDim', s.inputDim, 1, 65536);
  checkInt('shape.userDim', s.userDim, 0, s.inputDim - 1);
  checkInt('shape.crossLayers', s.crossLayers, 0, 64);
  checkInt('shape.crossRank', s.crossRank, 0, s.inputDim);
  checkInt('shape.heads', s.heads, 1, 1024);
  if (!Array.isArray(s.mlp)) throw new NativeInputError('shape.mlp must be an array of layer widths');
  s.mlp.forEach((w, i) => checkInt(`shape.mlp[${i}]`, w, 1, 65536));
  if (s.structure !== 'stacked' && s.structure !== 'parallel') {
    throw new NativeInputError(`shape.structure must be 'stacked' or 'parallel', got ${String(s.structure)}`);
  }
  return s;
}

/** Flattens named weights into the tensor order the native model expects. */
export function flattenWeights(shape: DcnShape, w: DcnWeights): Float32Array[] {
  const D = shape.inputDim;
  const out: Float32Array[] = [];
  const put = (name: string, a: Float32Array | undefined, len: number) => {
    if (a === undefined) throw new NativeInputError(`${name} is missing`);
    checkFinite(name, checkF32(name, a, len));
    out.push(a);
  };
  if (w.cross.length !== shape.crossLayers) {
    throw new NativeInputError(`weights.cross has ${w.cross.length} layers, shape.crossLayers is ${shape.crossLayers}`);
  }
  w.cross.forEach((c, l) => {
    if (shape.crossRank === 0) {
      put(`cross[${l}].weight`, c.weight, D * D);
    } else {
      put(`cross[${l}].u`, c.u, D * shape.crossRank);
      put(`cross[${l}].v`, c.v, shape.crossRank * D);
    }
    put(`cross[${l}].bias`, c.bias, D);
  });
  if (w.mlp.length !== shape.mlp.length) {
    throw new NativeInputError(`weights.mlp has ${w.mlp.length} layers, shape.mlp has ${shape.mlp.length}`);
  }
  let inDim = D;
  w.mlp.forEach((m, j) => {
    put(`mlp[${j}].weight`, m.weight, shape.mlp[j] * inDim);
    put(`mlp[${j}].bias`, m.bias, shape.mlp[j]);
    inDim = shape.mlp[j];
  });
  put('heads.weight', w.heads.weight, shape.heads * headInputDim(shape));
  put('heads.bias', w.heads.bias, shape.heads);
  return out;
}

/** Rows to calibrate int8 with, in forwardSegments' form. */
export interface DcnCalibration {
  users: Float32Array;
  offsets: Int32Array;
  items: Float32Array;
}

export interface DcnModelOptions {
  /** Default fp32 (exact). bf16 and int8 run through oneDNN. */
  precision?: DcnPrecision;
  /**
   * fp32 only: 'gemm' (the exact path: packed panels or cblas; the default
   * unless RANK_DCN_GEMM=onednn) or 'onednn' (oneDNN's fp32 matmul).
   */
  backend?: 'gemm' | 'onednn';
  /** Required for int8: rows the fp32 model runs over to set each layer's input ranges. */
  calibration?: DcnCalibration;
}

export class DcnModel {
  readonly shape: DcnShape;
  readonly precision: DcnPrecision;
  private readonly raw: RawDcnModel;

  /**
   * A model from tensors already in flattenWeights() order (the scoring
   * pool ships them to its workers that way): no second flattening; the
   * addon checks their sizes and values.
   */
  static fromTensors(shape: DcnShape, tensors: readonly Float32Array[], options: DcnModelOptions = {}): DcnModel {
    return new DcnModel(shape, { tensors }, options);
  }

  constructor(shape: DcnShape, weights: DcnWeights | { tensors: readonly Float32Array[] }, options: DcnModelOptions = {}) {
    this.shape = checkShape({ ...shape, mlp: [...shape.mlp] });
    const precision = options.precision ?? 'fp32';
    if (precision !== 'fp32' && precision !== 'bf16' && precision !== 'int8') {
      throw new NativeInputError(`options.precision must be 'fp32', 'bf16' or 'int8', got ${String(precision)}`);
    }
    if (options.backend !== undefined && options.backend !== 'gemm' && options.backend !== 'onednn') {
      throw new NativeInputError(`options.backend must be 'gemm' or 'onednn', got ${String(options.backend)}`);
    }
    if (options.backend === 'gemm' && precision !== 'fp32') throw new NativeInputError(`options.backend 'gemm' runs fp32 only, not ${precision}`);
    if (precision === 'int8' && options.calibration === undefined) throw new NativeInputError('options.calibration is required for int8');
    this.precision = precision;
    this.raw = new native.DcnModel(this.shape, 'tensors' in weights ? [...weights.tensors] : flattenWeights(this.shape, weights), {
      precision,
      backend: options.backend,
      calibration: precision === 'int8' ? options.calibration : undefined,
    });
  }

  /** How the layers multiply, e.g. 'fp32 (packed)' or 'int8 (oneDNN gemm:jit)'. */
  get kernels(): string {
    return this.raw.kernels();
  }

  /** Items per call are B = items.length / (inputDim - userDim). */
  batchSize(items: Float32Array): number {
    return items.length / (this.shape.inputDim - this.shape.userDim);
  }

  /**
   * Scores a batch: user is the shared [userDim] prefix of x0, items holds B
   * rows of the remaining features. Returns B x heads probabilities (written
   * into `out` when given). Synchronous: call it from a worker thread.
   * A NaN or infinite input throws a RangeError naming it (checked natively).
   */
  forward(user: Float32Array, items: Float32Array, out?: Float32Array): Float32Array {
    const { inputDim, userDim, heads } = this.shape;
    checkF32('user', user, userDim);
    checkF32('items', items);
    const di = inputDim - userDim;
    if (items.length % di !== 0) {
      throw new NativeInputError(`items length ${items.length} is not a multiple of inputDim - userDim = ${di}`);
    }
    if (out !== undefined) checkF32('out', out);
    if (out !== undefined && out.length < (items.length / di) * heads) {
      throw new NativeInputError(`out must hold at least ${(items.length / di) * heads} values`);
    }
    return this.raw.forward(user, items, out);
  }

  /**
   * Scores several requests in one batch (cross-request micro-batching):
   * rows offsets[g] .. offsets[g+1] of `items` belong to the request whose
   * user part is users[g * userDim .. (g+1) * userDim]. One GEMM per layer
   * over all rows; the user parts are applied per segment.
   */
  forwardSegments(users: Float32Array, offsets: Int32Array, items: Float32Array, out?: Float32Array): Float32Array {
    const { inputDim, userDim, heads } = this.shape;
    const di = inputDim - userDim;
    checkF32('users', users);
    checkI32('offsets', offsets);
    checkF32('items', items);
    if (offsets.length < 1) throw new NativeInputError('offsets must have segments + 1 entries');
    const segments = offsets.length - 1;
    if (users.length !== segments * userDim) {
      throw new NativeInputError(`users has ${users.length} values, expected (offsets.length - 1) * userDim = ${segments * userDim}`);
    }
    if (items.length % di !== 0) throw new NativeInputError(`items length ${items.length} is not a multiple of inputDim - userDim = ${di}`);
    const batch = items.length / di;
    if (offsets[0] !== 0 || offsets[segments] !== batch) {
      throw new NativeInputError(`offsets must start at 0 and end at the number of item rows (${batch})`);
    }
    for (let g = 0; g < segments; g++) {
      if (offsets[g + 1] < offsets[g]) throw new NativeInputError(`offsets must be non-decreasing (offsets[${g + 1}] < offsets[${g}])`);
    }
    if (out !== undefined && (checkF32('out', out).length < batch * heads)) {
      throw new NativeInputError(`out must hold at least ${batch * heads} values`);
    }
    return this.raw.forwardSegments(users, offsets, items, out);
  }

  /** Nominal multiply-add FLOPs of one forward pass over `batch` rows (without the user-split saving). */
  flops(batch: number): number {
    return this.raw.flops(checkInt('batch', batch, 0));
  }
}
