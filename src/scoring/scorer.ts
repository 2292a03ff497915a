// Scores candidate rows with the bundle's DCN-v2 models: gathers the item part
// of x0 (layout user-item-v1) natively from the shared catalog columns and runs
// one forward pass over all segments of a batch. Used by the pool's workers
// and, for batches too small to be worth a thread hop, by the pool inline.

import { DcnModel, DcnShape, headInputDim } from '../native/dcn';
import { fp32Backend } from '../native/dcn-precision';
import { onednnCpu } from '../native';
import { gatherItemFeatures } from '../native/features';
import type { DcnCalibration, DcnWeights } from '../native/dcn';
import { buildDcnOnnx } from '../onnx/dcn-graph';
import { dcnForwardReference } from './dcn-ts';
import type { ModelName, WorkerInit, WorkerModel } from './protocol';

/** Rebuilds named weights from the flat tensor list (flattenWeights order). */
function unflatten(m: WorkerModel): DcnWeights {
  const t = m.tensors;
  let i = 0;
  const s = m.shape;
  const cross = Array.from({ length: s.crossLayers }, () =>
    s.crossRank === 0 ? { weight: t[i++], bias: t[i++] } : { u: t[i++], v: t[i++], bias: t[i++] },
  );
  const mlp = s.mlp.map(() => ({ weight: t[i++], bias: t[i++] }));
  return { cross, mlp, heads: { weight: t[i++], bias: t[i++] } };
}

/**
 * Multiply-adds x 2 of one row's forward pass (the user part of the first
 * layers counted too): what decides whether a batch is worth a worker.
 */
export function flopsPerRow(s: DcnShape): number {
  const D = s.inputDim;
  const cross = s.crossRank === 0 ? D * D : 2 * D * s.crossRank;
  let f = s.crossLayers * cross;
  let prev = D; // the MLP reads x_L (stacked) or x0 (parallel): D wide either way
  for (const h of s.mlp) {
    f += prev * h;
    prev = h;
  }
  f += headInputDim(s) * s.heads;
  return 2 * f;
}

/** One model's forward over segments: users[g] with item rows offsets[g]..offsets[g+1] of x. */
interface Runner {
  run(users: Float32Array, offsets: Int32Array, x: Float32Array): Float32Array | Promise<Float32Array>;
}

function nativeRunner(m0: WorkerModel, calibration: DcnCalibration | undefined): Runner {
  const backend = m0.precision === 'fp32' ? (m0.backend ?? fp32Backend(onednnCpu)) : undefined;
  const m = DcnModel.fromTensors(m0.shape, m0.tensors, { precision: m0.precision, backend, calibration });
  return { run: (users, offsets, x) => m.forwardSegments(users, offsets, x) };
}

function tsRunner(shape: DcnShape, w: DcnWeights): Runner {
  const di = shape.inputDim - shape.userDim;
  const du = shape.userDim;
  return {
    run(users, offsets, x) {
      const out = new Float32Array(offsets[offsets.length - 1] * shape.heads);
      for (let g = 0; g + 1 < offsets.length; g++) {
        const p = dcnForwardReference(shape, w, users.subarray(g * du, (g + 1) * du), x.subarray(offsets[g] * di, offsets[g + 1] * di));
        out.set(p, offsets[g] * shape.heads);
      }
      return out;
    },
  };
}

/**
 * ONNX Runtime on the x0 formulation (its fastest): every row gets its
 * segment's user prefix. Loaded only for this backend: a worker that has
 * onnxruntime's addon half-loaded when its pool stops aborts the process.
 */
async function ortRunner(shape: DcnShape, w: DcnWeights): Promise<Runner> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(buildDcnOnnx(shape, w, { input: 'x0' }), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const D = shape.inputDim;
  const du = shape.userDim;
  const di = D - du;
  return {
    async run(users, offsets, x) {
      const B = offsets[offsets.length - 1];
      const x0 = new Float32Array(B * D);
      for (let g = 0; g + 1 < offsets.length; g++) {
        const u = users.subarray(g * du, (g + 1) * du);
        for (let b = offsets[g]; b < offsets[g + 1]; b++) {
          x0.set(u, b * D);
          x0.set(x.subarray(b * di, (b + 1) * di), b * D + du);
        }
      }
      const out = await session.run({ x0: new ort.Tensor('float32', x0, [B, D]) });
      return out.probs.data as Float32Array;
    },
  };
}

async function runner(init: WorkerInit, m: WorkerModel): Promise<Runner> {
  if (init.backend === 'native') return nativeRunner(m, init.calibration);
  // The baselines take named weights.
  const w = unflatten(m);
  return init.backend === 'ort' ? ortRunner(m.shape, w) : tsRunner(m.shape, w);
}

export class Scorer {
  private items = new Float32Array(0);

  private constructor(
    private readonly init: WorkerInit,
    private readonly models: Record<ModelName, Runner>,
  ) {}

  static async create(init: WorkerInit): Promise<Scorer> {
    return new Scorer(init, { ranker: await runner(init, init.models.ranker), preranker: await runner(init, init.models.preranker) });
  }

  /** Item part of x0 for each row (native gather from the shared catalog), into a reused buffer. */
  private gather(rows: Int32Array, now: number, itemDim: number): Float32Array {
    const cols = this.init;
    if (itemDim !== cols.dim + 4) throw new Error(`the model's item part has ${itemDim} features; layout user-item-v1 has dim + 4 = ${cols.dim + 4}`);
    const need = rows.length * itemDim;
    if (this.items.length < need) this.items = new Float32Array(need * 2);
    return gatherItemFeatures(cols, rows, now, cols.newItemMs, this.items.subarray(0, need));
  }

  /**
   * Segment g = rows offsets[g]..offsets[g+1], scored with users[g]; rows x
   * heads probabilities. Synchronous for the native and TypeScript backends.
   */
  score(model: ModelName, users: Float32Array, offsets: Int32Array, rows: Int32Array, now: number): Float32Array | Promise<Float32Array> {
    const { inputDim, userDim } = this.init.models[model].shape;
    const x = this.gather(rows, now, inputDim - userDim);
    return this.models[model].run(users, offsets, x);
  }
}
