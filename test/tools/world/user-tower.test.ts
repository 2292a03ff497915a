import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';

import { readNpyFloat32 } from '../../../src/bundle/npy';
import { Rng } from '../../../src/util/random';
import { DAY_MS } from '../../../tools/world/schema';
import { ACTION_CODES } from '../../../tools/world/user-tower';
import { cosine, dot, EventLine, ItemLine, makeWorld, pearson, readJsonl, smallConfig, tmpDir } from './helpers';

/** One action sequence as the tower takes it (unpadded). */
interface Sequence {
  rows: number[];
  actions: number[];
  ageDays: number[];
}

describe('world/user-tower: the ONNX user tower in onnxruntime', function () {
  this.timeout(60_000);
  const cfg = smallConfig({ seed: 3, items: 3000, users: 300, dim: 32 });
  const d = cfg.dim;
  let dir: string;
  let session: ort.InferenceSession;
  let items: ItemLine[];
  let emb: Float32Array;
  let logPrice: Float32Array;
  let pref: Float32Array;
  let truePricePref: number[];
  let byUser: Map<number, Sequence>;

  before(async () => {
    dir = await tmpDir('tower');
    await makeWorld(cfg, dir);
    const bundle = path.join(dir, 'bundle');
    session = await ort.InferenceSession.create(await fs.readFile(path.join(bundle, 'user_tower.onnx')));
    const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8')) as {
      referenceTime: string;
      features: { logPriceMean: number; logPriceStd: number };
    };
    items = await readJsonl<ItemLine>(path.join(bundle, 'items.jsonl'));
    const rowOf = new Map(items.map((it, i) => [it.id, i]));
    emb = (await readNpyFloat32(path.join(bundle, 'item_embeddings.npy'))).data;
    const { logPriceMean, logPriceStd } = manifest.features;
    logPrice = Float32Array.from(items, (it) => (Math.log(it.price) - logPriceMean) / logPriceStd);
    pref = (await readNpyFloat32(path.join(dir, 'truth', 'user_pref.npy'))).data;
    truePricePref = (await readJsonl<{ price_pref: number }>(path.join(dir, 'truth', 'users.jsonl'))).map((u) => u.price_pref);
    const ref = Date.parse(manifest.referenceTime);
    byUser = new Map();
    for (const e of await readJsonl<EventLine>(path.join(dir, 'events.jsonl'))) {
      const u = Number(e.user.slice('user-'.length));
      const row = rowOf.get(e.item);
      assert.ok(row !== undefined, `event item ${e.item} not in the bundle`);
      let s = byUser.get(u);
      if (!s) byUser.set(u, (s = { rows: [], actions: [], ageDays: [] }));
      s.rows.push(row);
      s.actions.push(ACTION_CODES[e.action as keyof typeof ACTION_CODES]);
      s.ageDays.push((ref - e.ts) / DAY_MS);
    }
    // The last 50 actions (events.jsonl is sorted by time).
    for (const s of byUser.values()) {
      const from = Math.max(0, s.rows.length - 50);
      s.rows = s.rows.slice(from);
      s.actions = s.actions.slice(from);
      s.ageDays = s.ageDays.slice(from);
    }
  });
  after(async () => {
    await session?.release();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** Runs a batch of sequences, padded to the longest (or to `padTo`). */
  async function run(seqs: Sequence[], padTo = 0): Promise<{ userEmb: Float32Array; pricePref: Float32Array }> {
    const B = seqs.length;
    const L = Math.max(padTo, ...seqs.map((s) => s.rows.length));
    const x = new Float32Array(B * L * d);
    const lp = new Float32Array(B * L);
    const act = new BigInt64Array(B * L);
    const age = new Float32Array(B * L);
    seqs.forEach((s, b) => {
      s.rows.forEach((r, l) => {
        x.set(emb.subarray(r * d, (r + 1) * d), (b * L + l) * d);
        lp[b * L + l] = logPrice[r];
        act[b * L + l] = BigInt(s.actions[l]);
        age[b * L + l] = s.ageDays[l];
      });
    });
    const out = await session.run({
      items: new ort.Tensor('float32', x, [B, L, d]),
      log_price: new ort.Tensor('float32', lp, [B, L]),
      action: new ort.Tensor('int64', act, [B, L]),
      age_days: new ort.Tensor('float32', age, [B, L]),
    });
    assert.deepEqual(out.user_emb.dims, [B, d]);
    assert.deepEqual(out.price_pref.dims, [B, 1]);
    return { userEmb: out.user_emb.data as Float32Array, pricePref: out.price_pref.data as Float32Array };
  }

  it('has the documented inputs and outputs', () => {
    assert.deepEqual([...session.inputNames].sort(), ['action', 'age_days', 'items', 'log_price']);
    assert.deepEqual([...session.outputNames].sort(), ['price_pref', 'user_emb']);
  });

  it('for users with >= 10 events the embedding is close to the true preference (mean cosine > 0.6), far above a random other user', async () => {
    const active = [...byUser].filter(([, s]) => s.rows.length >= 10).map(([u]) => u);
    assert.ok(active.length >= 100, `${active.length} users with >= 10 events`);
    const rng = new Rng(17);
    let own = 0;
    let other = 0;
    const estPrice: number[] = [];
    const truePrice: number[] = [];
    for (const u of active) {
      const { userEmb, pricePref } = await run([byUser.get(u)!]);
      let norm = 0;
      for (let j = 0; j < d; j++) norm += userEmb[j] * userEmb[j];
      assert.ok(Math.abs(norm - 1) < 1e-4, `user ${u}: |user_emb|^2 = ${norm}`);
      own += cosine(userEmb, 0, pref, u * d, d);
      let v = rng.int(cfg.users - 1);
      if (v >= u) v++;
      other += cosine(userEmb, 0, pref, v * d, d);
      estPrice.push(pricePref[0]);
      truePrice.push(truePricePref[u]);
    }
    own /= active.length;
    other /= active.length;
    assert.ok(own > 0.6, `mean cosine with the true preference ${own.toFixed(3)}`);
    assert.ok(own > other + 0.4, `mean cosine own ${own.toFixed(3)} vs random other user ${other.toFixed(3)}`);
    // price_pref is an estimate of the user's price level.
    const r = pearson(estPrice, truePrice);
    assert.ok(r > 0.5, `Pearson(price_pref, true price preference) = ${r.toFixed(3)}`);
  });

  it('a log entirely of one category gives an embedding whose top-20 items are mostly (>= 80%) that category', async () => {
    const byCat = new Map<string, number[]>();
    items.forEach((it, i) => byCat.set(it.category, [...(byCat.get(it.category) ?? []), i]));
    const cats = [...byCat].filter(([, rows]) => rows.length >= 60).map(([c]) => c);
    assert.ok(cats.length >= 5, `${cats.length} categories with >= 60 items`);
    const rng = new Rng(29);
    const n = items.length;
    for (const c of cats) {
      const rows = byCat.get(c)!;
      const seq: Sequence = { rows: [], actions: [], ageDays: [] };
      for (let k = 0; k < 20; k++) {
        seq.rows.push(rows[rng.int(rows.length)]);
        seq.actions.push(k % 5 === 0 ? ACTION_CODES.cart : ACTION_CODES.click);
        seq.ageDays.push(30 - k);
      }
      const { userEmb } = await run([seq]);
      const scores = Array.from({ length: n }, (_, i) => dot(userEmb, 0, emb, i * d, d));
      const top = Array.from({ length: n }, (_, i) => i)
        .sort((a, b) => scores[b] - scores[a])
        .slice(0, 20);
      const hits = top.filter((i) => items[i].category === c).length;
      assert.ok(hits >= 16, `category ${c}: ${hits} of the top-20 items are in it`);
    }
  });

  it('an all-padding sequence gives a zero embedding', async () => {
    const L = 7;
    const out = await session.run({
      items: new ort.Tensor('float32', new Float32Array(L * d), [1, L, d]),
      log_price: new ort.Tensor('float32', new Float32Array(L), [1, L]),
      action: new ort.Tensor('int64', new BigInt64Array(L).fill(BigInt(ACTION_CODES.padding)), [1, L]),
      age_days: new ort.Tensor('float32', new Float32Array(L), [1, L]),
    });
    const e = out.user_emb.data as Float32Array;
    assert.equal(e.length, d);
    for (let j = 0; j < d; j++) assert.equal(e[j], 0, `user_emb[${j}] = ${e[j]}`);
    const p = out.price_pref.data as Float32Array;
    assert.ok(Number.isFinite(p[0]));
  });

  it('padding after the actions does not change the result', async () => {
    const s = [...byUser.values()].find((q) => q.rows.length >= 10)!;
    const plain = await run([s]);
    const padded = await run([s], s.rows.length + 13);
    for (let j = 0; j < d; j++) assert.ok(Math.abs(plain.userEmb[j] - padded.userEmb[j]) < 1e-5);
    assert.ok(Math.abs(plain.pricePref[0] - padded.pricePref[0]) < 1e-5);
  });

  it('a batch of 3 sequences (different lengths, padded) gives the same results as 3 single runs', async () => {
    const seqs = [...byUser.values()]
      .filter((q) => q.rows.length >= 3)
      .sort((a, b) => a.rows.length - b.rows.length);
    const pick = [seqs[0], seqs[Math.floor(seqs.length / 2)], seqs[seqs.length - 1]];
    assert.ok(pick[0].rows.length < pick[2].rows.length, 'sequences of different lengths');
    const batch = await run(pick);
    for (let b = 0; b < 3; b++) {
      const single = await run([pick[b]]);
      for (let j = 0; j < d; j++) {
        const diff = Math.abs(batch.userEmb[b * d + j] - single.userEmb[j]);
        assert.ok(diff < 1e-5, `sequence ${b} (length ${pick[b].rows.length}), user_emb[${j}]: batch ${batch.userEmb[b * d + j]} vs single ${single.userEmb[j]}`);
      }
      assert.ok(Math.abs(batch.pricePref[b] - single.pricePref[0]) < 1e-5, `sequence ${b}: price_pref batch ${batch.pricePref[b]} vs single ${single.pricePref[0]}`);
    }
  });
});
