// Scoring worker: builds the DCN-v2 models once from the weights it was given,
// reads item features straight from the shared catalog, and scores
// micro-batches of candidates from several requests in one forward pass.
import { workerData } from 'node:worker_threads';
import Piscina from 'piscina';

import { DcnModel } from '../../native/dcn';
import type { DcnWeights } from '../../native/dcn';
import type { ModelName, ScoreTask, WorkerInit, WorkerModel } from './protocol';

const init = workerData as WorkerInit;

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

const models: Record<ModelName, DcnModel> = {
  ranker: new DcnModel(init.models.ranker.shape, unflatten(init.models.ranker)),
  preranker: new DcnModel(init.models.preranker.shape, unflatten(init.models.preranker)),
};

let items = new Float32Array(0);

/** Item part of x0 (layout user-item-v1) for each row, into a reused buffer. */
function gather(rows: Int32Array, now: number, itemDim: number): Float32Array {
  const d = init.dim;
  const need = rows.length * itemDim;
  if (items.length < need) items = new Float32Array(need * 2);
  const out = items.subarray(0, need);
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

export default function score(task: ScoreTask): Float32Array {
  const model = models[task.model];
  const { inputDim, userDim } = model.shape;
  const x = gather(task.rows, task.now, inputDim - userDim);
  const out = model.forwardSegments(task.users, task.offsets, x);
  return Piscina.move(out) as unknown as Float32Array;
}
