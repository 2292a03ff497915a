// The bundle's ONNX user tower: the user's recent actions -> user embedding
// and preferred price level. Runs in onnxruntime-node off the event loop.
import * as ort from 'onnxruntime-node';

import type { LiveCatalog } from '../catalog/catalog';
import type { UserInterests } from './interests';
import type { UserSnapshot } from '../state/snapshot';

const DAY_MS = 86_400_000;

export interface TowerOutput {
  embedding: Float32Array;
  pricePref: number;
  /** The user's interests (two or more; null: one), computed for `interestsFor` interests at most. */
  interests?: UserInterests | null;
  interestsFor?: number;
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
    const from = total - L;
    const out = await this.run(user, catalog, now, [Int32Array.from({ length: L }, (_, k) => from + k)]);
    return { embedding: out.embedding, pricePref: out.pricePref[0] };
  }

  /**
   * The tower over each group of the user's actions (indices into the
   * snapshot, oldest first), in one batched call: groups x dim embeddings
   * (zero for an empty group) and a preferred price per group.
   */
  async embedGroups(user: UserSnapshot, catalog: LiveCatalog, now: number, groups: Int32Array[]): Promise<{ embedding: Float32Array; pricePref: Float32Array }> {
    if (groups.length === 0) return { embedding: new Float32Array(0), pricePref: new Float32Array(0) };
    return this.run(user, catalog, now, groups);
  }

  private async run(user: UserSnapshot, catalog: LiveCatalog, now: number, groups: Int32Array[]): Promise<{ embedding: Float32Array; pricePref: Float32Array }> {
    const d = this.dim;
    const B = groups.length;
    const L = Math.max(1, ...groups.map((g) => Math.min(g.length, this.maxActions)));
    // Padding (action code 0) fills each group's sequence from the start.
    const items = new Float32Array(B * L * d);
    const logPrice = new Float32Array(B * L);
    const action = new BigInt64Array(B * L);
    const age = new Float32Array(B * L);
    const { embeddings } = catalog.cols;
    for (let b = 0; b < B; b++) {
      const g = groups[b].subarray(Math.max(0, groups[b].length - L));
      for (let k = 0; k < g.length; k++) {
        const i = g[k];
        const at = b * L + L - g.length + k;
        const r = user.actionRows[i];
        items.set(embeddings.subarray(r * d, (r + 1) * d), at * d);
        logPrice[at] = catalog.cols.logPrice[r];
        action[at] = BigInt(user.actionCodes[i]);
        age[at] = Math.max(0, (now - user.actionTimes[i]) / DAY_MS);
      }
    }
    const out = await this.session.run({
      items: new ort.Tensor('float32', items, [B, L, d]),
      log_price: new ort.Tensor('float32', logPrice, [B, L]),
      action: new ort.Tensor('int64', action, [B, L]),
      age_days: new ort.Tensor('float32', age, [B, L]),
    });
    return { embedding: out.user_emb.data as Float32Array, pricePref: out.price_pref.data as Float32Array };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
