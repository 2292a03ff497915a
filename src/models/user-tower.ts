// The bundle's ONNX user tower: the user's recent actions -> user embedding
// and preferred price level. Runs in onnxruntime-node off the event loop.
import * as ort from 'onnxruntime-node';

import type { LiveCatalog } from '../catalog/catalog';
import type { UserSnapshot } from '../state/snapshot';

const DAY_MS = 86_400_000;

export interface TowerOutput {
  embedding: Float32Array;
  pricePref: number;
}

export class UserTower {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly dim: number,
    readonly maxActions: number,
  ) {}

  static async create(model: Uint8Array, dim: number, maxActions = 50): Promise<UserTower> {
    const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    return new UserTower(session, dim, maxActions);
  }

  /** A user with no actions gets a zero embedding (the caller falls back to popularity). */
  async embed(user: UserSnapshot, catalog: LiveCatalog, now: number): Promise<TowerOutput> {
    const total = user.actionRows.length;
    const L = Math.min(total, this.maxActions);
    if (L === 0) return { embedding: new Float32Array(this.dim), pricePref: 0 };
    const d = this.dim;
    const items = new Float32Array(L * d);
    const logPrice = new Float32Array(L);
    const action = new BigInt64Array(L);
    const age = new Float32Array(L);
    const { embeddings } = catalog.cols;
    for (let k = 0; k < L; k++) {
      const i = total - L + k;
      const r = user.actionRows[i];
      items.set(embeddings.subarray(r * d, (r + 1) * d), k * d);
      logPrice[k] = catalog.cols.logPrice[r];
      action[k] = BigInt(user.actionCodes[i]);
      age[k] = Math.max(0, (now - user.actionTimes[i]) / DAY_MS);
    }
    const out = await this.session.run({
      items: new ort.Tensor('float32', items, [1, L, d]),
      log_price: new ort.Tensor('float32', logPrice, [1, L]),
      action: new ort.Tensor('int64', action, [1, L]),
      age_days: new ort.Tensor('float32', age, [1, L]),
    });
    return { embedding: out.user_emb.data as Float32Array, pricePref: (out.price_pref.data as Float32Array)[0] };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
