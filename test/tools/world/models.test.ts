import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { readNpyFloat32 } from '../../../src/bundle/npy';
import { readSafetensors } from '../../../src/bundle/safetensors';
import { featureLayout, gatherItemFeatures, ItemColumns, userFeatures } from '../../../src/models/layout';
import { DcnModel, DcnShape, DcnWeights } from '../../../src/native';
import { Rng } from '../../../src/util/random';
import { Catalog } from '../../../tools/world/catalog';
import { tensorNames } from '../../../src/bundle/tensors';
import { prerankerShape, rankerShape } from '../../../tools/world/models';
import { DAY_MS, OBJECTIVES } from '../../../tools/world/schema';
import { DEVICES, SURFACES } from '../../../src/models/schema';
import { DEFAULT_TRUTH, trueProbabilities } from '../../../tools/world/truth';
import { Users } from '../../../tools/world/users';
import { ItemLine, makeWorld, pearson, readJsonl, regenerate, smallConfig, tmpDir } from './helpers';

/** A bundle model read straight from its files (safetensors + JSON config). */
async function readModel(bundle: string, base: string): Promise<{ shape: DcnShape; model: DcnModel }> {
  const config = JSON.parse(await fs.readFile(path.join(bundle, `${base}.json`), 'utf8')) as { shape: DcnShape; layout: string };
  assert.equal(config.layout, 'user-item-v1');
  const { tensors } = await readSafetensors(path.join(bundle, `${base}.safetensors`));
  const shape = config.shape;
  assert.deepEqual([...tensors.keys()].sort(), tensorNames(shape).sort());
  const get = (n: string) => tensors.get(n)!.data;
  const weights: DcnWeights = {
    cross: Array.from({ length: shape.crossLayers }, (_, l) => ({ weight: get(`cross.${l}.weight`), bias: get(`cross.${l}.bias`) })),
    mlp: shape.mlp.map((_, j) => ({ weight: get(`mlp.${j}.weight`), bias: get(`mlp.${j}.bias`) })),
    heads: { weight: get('heads.weight'), bias: get('heads.bias') },
  };
  return { shape, model: new DcnModel(shape, weights) };
}

function sampleRows(rng: Rng, n: number, k: number): number[] {
  return Array.from({ length: k }, () => rng.int(n));
}

describe('world/models: the bundle models against the truth', function () {
  this.timeout(60_000);
  const cfg = smallConfig({ seed: 5, items: 3000, users: 300, dim: 32 });
  const d = cfg.dim;
  const layout = featureLayout(d);
  let dir: string;
  let bundle: string;
  let cat: Catalog;
  let users: Users;
  let ranker: { shape: DcnShape; model: DcnModel };
  let preranker: { shape: DcnShape; model: DcnModel };

  before(async () => {
    dir = await tmpDir('models');
    await makeWorld(cfg, dir);
    bundle = path.join(dir, 'bundle');
    ({ cat, users } = regenerate(cfg));
    ranker = await readModel(bundle, 'ranker');
    preranker = await readModel(bundle, 'preranker');
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('the regenerated catalog and users are the ones written to truth/', async () => {
    const pref = await readNpyFloat32(path.join(dir, 'truth', 'user_pref.npy'));
    assert.deepEqual(pref.shape, [cfg.users, d]);
    assert.deepEqual(Array.from(pref.data), Array.from(users.pref));
    const latent = await readNpyFloat32(path.join(dir, 'truth', 'item_latent.npy'));
    assert.deepEqual(latent.shape, [cfg.items, d]);
    assert.deepEqual(Array.from(latent.data), Array.from(cat.latent));
  });

  it('the written models have the shapes of models.ts', () => {
    assert.deepEqual(ranker.shape, rankerShape(layout));
    assert.deepEqual(preranker.shape, prerankerShape(layout));
    assert.equal(ranker.shape.heads, OBJECTIVES.length);
  });

  it('ranker and pre-ranker reproduce trueProbabilities exactly on true inputs (4 surfaces x 3 devices)', () => {
    const rng = new Rng(99);
    const trueCols: ItemColumns = { embeddings: cat.latent, logPrice: cat.logPrice, isNew: cat.isNew, popularity: cat.popularity };
    const newRows: number[] = [];
    for (let i = 0; i < cat.n; i++) if (cat.isNew[i]) newRows.push(i);
    assert.ok(newRows.length > 50);
    const H = OBJECTIVES.length;
    let worstRanker = 0;
    let worstPre = 0;
    let maxP = 0;
    let checked = 0;
    for (let t = 0; t < 16; t++) {
      const u = rng.int(cfg.users);
      // Random items, new items, and the user's best matches (high probabilities).
      const aff = Array.from({ length: cat.n }, (_, i) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += users.pref[u * d + j] * cat.latent[i * d + j];
        return s;
      });
      const best = Array.from({ length: cat.n }, (_, i) => i)
        .sort((x, y) => aff[y] - aff[x])
        .slice(0, 40);
      const rows = Int32Array.from([...sampleRows(rng, cat.n, 120), ...newRows.slice(t * 5, t * 5 + 40), ...best]);
      const items = gatherItemFeatures(layout, trueCols, rows);
      for (const surface of SURFACES) {
        for (const device of DEVICES) {
          const user = userFeatures(layout, users.pref.subarray(u * d, (u + 1) * d), users.pricePref[u], surface, device);
          const truth = trueProbabilities(DEFAULT_TRUTH, cat, users, u, rows, { surface, device });
          const got = ranker.model.forward(user, items);
          const pre = preranker.model.forward(user, items);
          assert.equal(got.length, rows.length * H);
          assert.equal(pre.length, rows.length);
          for (let k = 0; k < rows.length; k++) {
            for (let o = 0; o < H; o++) {
              const diff = Math.abs(got[k * H + o] - truth[k * H + o]);
              if (!(diff < 1e-5)) {
                assert.fail(`ranker ${OBJECTIVES[o]} for user ${u}, item ${rows[k]}, ${surface}/${device}: ${got[k * H + o]} vs truth ${truth[k * H + o]}`);
              }
              worstRanker = Math.max(worstRanker, diff);
              maxP = Math.max(maxP, truth[k * H + o]);
            }
            const dp = Math.abs(pre[k] - truth[k * H]);
            if (!(dp < 1e-5)) assert.fail(`pre-ranker for user ${u}, item ${rows[k]}, ${surface}/${device}: ${pre[k]} vs truth P(click) ${truth[k * H]}`);
            worstPre = Math.max(worstPre, dp);
            checked++;
          }
        }
      }
    }
    assert.ok(checked >= 16 * 12 * 200);
    // The sample reaches well into the high-probability range.
    assert.ok(maxP > 0.5, `largest true probability in the sample ${maxP}`);
    assert.ok(worstRanker < 1e-5 && worstPre < 1e-5);
  });

  it('on the served (noisy) item embeddings the ranker P(click) still correlates with the truth (Pearson > 0.8)', async () => {
    // Served item features: bundle embeddings and bias, log price from the
    // rounded price and the manifest's standardisation, is_new from created_at.
    const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8')) as {
      referenceTime: string;
      features: { logPriceMean: number; logPriceStd: number; newItemDays: number };
    };
    const lines = await readJsonl<ItemLine>(path.join(bundle, 'items.jsonl'));
    const emb = await readNpyFloat32(path.join(bundle, 'item_embeddings.npy'));
    const bias = await readNpyFloat32(path.join(bundle, 'item_bias.npy'));
    const ref = Date.parse(manifest.referenceTime);
    const { logPriceMean, logPriceStd, newItemDays } = manifest.features;
    const served: ItemColumns = {
      embeddings: emb.data,
      logPrice: Float32Array.from(lines, (it) => (Math.log(it.price) - logPriceMean) / logPriceStd),
      isNew: Uint8Array.from(lines, (it) => (Date.parse(it.created_at) >= ref - newItemDays * DAY_MS ? 1 : 0)),
      popularity: bias.data,
    };
    // The served columns other than the embeddings match the truth's.
    assert.deepEqual(Array.from(served.isNew), Array.from(cat.isNew));
    for (let i = 0; i < cat.n; i++) assert.ok(Math.abs(served.logPrice[i] - cat.logPrice[i]) < 1e-4);

    const rng = new Rng(123);
    const H = OBJECTIVES.length;
    const pred: number[] = [];
    const truth: number[] = [];
    for (let t = 0; t < 60; t++) {
      const u = rng.int(cfg.users);
      const rows = Int32Array.from(sampleRows(rng, cat.n, 100));
      const surface = SURFACES[t % SURFACES.length];
      const device = DEVICES[users.device[u]];
      const user = userFeatures(layout, users.pref.subarray(u * d, (u + 1) * d), users.pricePref[u], surface, device);
      const got = ranker.model.forward(user, gatherItemFeatures(layout, served, rows));
      const tp = trueProbabilities(DEFAULT_TRUTH, cat, users, u, rows, { surface, device });
      for (let k = 0; k < rows.length; k++) {
        pred.push(got[k * H]);
        truth.push(tp[k * H]);
      }
    }
    const r = pearson(pred, truth);
    assert.ok(r > 0.8, `Pearson(ranker P(click) on served embeddings, true P(click)) = ${r.toFixed(3)}`);
    // Noise makes them differ, though: the served inputs are not the truth.
    let diff = 0;
    for (let k = 0; k < pred.length; k++) diff = Math.max(diff, Math.abs(pred[k] - truth[k]));
    assert.ok(diff > 1e-3, 'served embeddings are noisy copies of the latent vectors');
  });
});
