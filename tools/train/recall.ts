// Recall@K of a user tower and item embeddings on the held-out engagements
// (sequences.ts: the engagements at or after the split time), as the engine
// would retrieve: the ONNX tower run by onnxruntime on the sequence, then the
// exact top K by inner product (a flat FAISS index over every item). A hit:
// the engaged item is among the K. Also the ONNX tower against PyTorch's
// outputs on the trainer's parity inputs.
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { readNpyFloat32 } from '../../src/bundle/npy';
import { VectorIndex } from '../../src/native/vector-index';
import { Interval, meanInterval, pairedDifference } from '../eval/metrics';

export const RECALL_KS = [20, 100, 500] as const;

export interface RecallResult {
  n: number;
  /** Per K: the share of held-out engagements whose item the top K holds, with its 95% interval. */
  recall: Record<number, Interval>;
  /** Per K: 1 where the top K held the item, per engagement (for paired comparisons). */
  hits: Record<number, Uint8Array>;
}

interface Sequences {
  rows: Float32Array;
  codes: Float32Array;
  ages: Float32Array;
  target: Float32Array;
  n: number;
  L: number;
}

export async function readHeldOut(dataDir: string): Promise<Sequences> {
  const [rows, codes, ages, target] = await Promise.all(['rows', 'code', 'age', 'target'].map((k) => readNpyFloat32(path.join(dataDir, `tt_held_${k}.npy`))));
  return { rows: rows.data, codes: codes.data, ages: ages.data, target: target.data, n: target.shape[0], L: rows.shape[1] ?? 0 };
}

/** The tower's inputs for sequences [from, to): item embeddings and prices gathered per action, padding zero. */
function towerInputs(s: Sequences, from: number, to: number, embeddings: Float32Array, logPrice: Float32Array, d: number): Record<string, ort.Tensor> {
  const B = to - from;
  const L = s.L;
  const items = new Float32Array(B * L * d);
  const price = new Float32Array(B * L);
  const action = new BigInt64Array(B * L);
  const age = new Float32Array(s.ages.subarray(from * L, to * L));
  for (let k = 0; k < B * L; k++) {
    const r = s.rows[from * L + k];
    if (r < 0) continue;
    items.set(embeddings.subarray(r * d, (r + 1) * d), k * d);
    price[k] = logPrice[r];
    action[k] = BigInt(s.codes[from * L + k]);
  }
  return {
    items: new ort.Tensor('float32', items, [B, L, d]),
    log_price: new ort.Tensor('float32', price, [B, L]),
    action: new ort.Tensor('int64', action, [B, L]),
    age_days: new ort.Tensor('float32', age, [B, L]),
  };
}

export async function towerRecall(held: Sequences, tower: Uint8Array, embeddings: Float32Array, logPrice: Float32Array, d: number): Promise<RecallResult> {
  const session = await ort.InferenceSession.create(tower, { intraOpNumThreads: 2 });
  const index = VectorIndex.create(d, 'Flat', 'ip');
  const n = embeddings.length / d;
  await index.add(embeddings, BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), 2);
  const K = Math.max(...RECALL_KS);
  const hits = Object.fromEntries(RECALL_KS.map((k) => [k, new Uint8Array(held.n)])) as Record<number, Uint8Array>;
  try {
    for (let from = 0; held.L > 0 && from < held.n; from += 512) {
      const to = Math.min(held.n, from + 512);
      const out = await session.run(towerInputs(held, from, to, embeddings, logPrice, d));
      const res = await index.search(out.user_emb.data as Float32Array, { k: K, threads: 2 });
      for (let q = 0; q < to - from; q++) {
        const rank = res.ids.subarray(q * K, (q + 1) * K).indexOf(BigInt(held.target[from + q]));
        for (const k of RECALL_KS) hits[k][from + q] = rank >= 0 && rank < k ? 1 : 0;
      }
    }
  } finally {
    await session.release();
  }
  return { n: held.n, hits, recall: Object.fromEntries(RECALL_KS.map((k) => [k, meanInterval(hits[k])])) };
}

/** a - b per K on the same engagements, with 95% intervals. */
export function recallDifference(a: RecallResult, b: RecallResult): Record<number, Interval> {
  return Object.fromEntries(RECALL_KS.map((k) => [k, pairedDifference(a.hits[k], b.hits[k])]));
}

/** The ONNX tower on the trainer's parity inputs against PyTorch's outputs: the largest difference. */
export async function towerParity(tower: Uint8Array, modelDir: string): Promise<number> {
  const read = (k: string) => readNpyFloat32(path.join(modelDir, `tt_parity_${k}.npy`));
  const [items, price, action, age, emb, pp] = await Promise.all(['items', 'log_price', 'action', 'age_days', 'user_emb', 'price_pref'].map(read));
  const session = await ort.InferenceSession.create(tower, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({
      // Copies: onnxruntime takes no views of shared memory (readNpyFloat32's).
      items: new ort.Tensor('float32', new Float32Array(items.data), items.shape),
      log_price: new ort.Tensor('float32', new Float32Array(price.data), price.shape),
      action: new ort.Tensor('int64', BigInt64Array.from(action.data, (v) => BigInt(v)), action.shape),
      age_days: new ort.Tensor('float32', new Float32Array(age.data), age.shape),
    });
    let worst = 0;
    const pairs: [ArrayLike<number>, Float32Array][] = [[out.user_emb.data as Float32Array, emb.data], [out.price_pref.data as Float32Array, pp.data]];
    for (const [got, want] of pairs) for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    return worst;
  } finally {
    await session.release();
  }
}
