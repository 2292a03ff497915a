// Scores candidate rows with the bundle's DCN-v2 models: builds the item part
// of x0 (layout user-item-v1) straight from the shared catalog columns and runs
// one forward pass over all segments of a batch. Used by the pool's workers
// and, for batches too small to be worth a thread hop, by the pool inline.
import { DcnModel, DcnShape, headInputDim } from '../../native/dcn';
import type { DcnWeights } from '../../native/dcn';
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

export class Scorer {
  private readonly models: Record<ModelName, DcnModel>;
  private items = new Float32Array(0);

  constructor(private readonly init: WorkerInit) {
    this.models = {
      ranker: new DcnModel(init.models.ranker.shape, unflatten(init.models.ranker)),
      preranker: new DcnModel(init.models.preranker.shape, unflatten(init.models.preranker)),
    };
  }

  /** Item part of x0 for each row, into a reused buffer. */
  private gather(rows: Int32Array, now: number, itemDim: number): Float32Array {
    const init = this.init;
    const d = init.dim;
    const need = rows.length * itemDim;
    if (this.items.length < need) this.items = new Float32Array(need * 2);
    const out = this.items.subarray(0, need);
    const { embeddings, logPrice, bias, createdAt } = init;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k];
      const o = k * itemDim;
      out.set(embeddings.subarray(r * d, (r + 1) * d), o);
      const lp = logPrice[r];
      out[o + d] = lp;
      out[o + d + 1] = lp;
      const t = createdAt[r];
      out[o + d + 2] = t <= now && now - t < init.newItemMs ? 1 : 0;
      out[o + d + 3] = bias[r];
    }
    return out;
  }

  /** Segment g = rows offsets[g]..offsets[g+1], scored with users[g]; rows x heads probabilities. */
  score(model: ModelName, users: Float32Array, offsets: Int32Array, rows: Int32Array, now: number): Float32Array {
    const m = this.models[model];
    const { inputDim, userDim } = m.shape;
    const x = this.gather(rows, now, inputDim - userDim);
    return m.forwardSegments(users, offsets, x);
  }
}
