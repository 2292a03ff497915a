// Reduced-precision rankers on a realistic model: the demo world's ranker and
// strong pre-ranker, int8 calibrated on the bundle's own rows
// (calibration.ts), bf16 as is, against fp32 on the candidates of real users
// of that world: the order that matters (the top 50 of 200) barely changes.
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';

import { Bundle, loadBundle } from '../../src/bundle/loader';
import { LiveCatalog } from '../../src/catalog/catalog';
import { calibrationSample } from '../../src/scoring/calibration';
import { ScoringPool, workerInit } from '../../src/scoring/pool';
import type { ModelName } from '../../src/scoring/protocol';
import { Scorer } from '../../src/scoring/scorer';
import { featureLayout, userFeatures } from '../../src/models/layout';
import { DcnPrecision, fp32Backend } from '../../src/native/dcn-precision';
import { onednnCpu } from '../../src/native';
import { chooseFromTimings, PrecisionChoice, probeCandidates, QUALITY_ALLOWED } from '../../src/native/precision-probe';
import { Rng } from '../../src/util/random';
import { worldPaths } from '../../tools/world/generate';
import { OBJECTIVES } from '../../tools/world/schema';
import { DEVICES, SURFACES } from '../../src/models/schema';
import { makeWorld, regenerate, smallConfig, tmpDir } from '../tools/world/helpers';

const CFG = smallConfig({ items: 4000, users: 60 });

/** Rows of the k highest values. */
function topSet(v: Float64Array, k: number): Set<number> {
  return new Set(Array.from(v.keys()).sort((a, b) => v[b] - v[a] || a - b).slice(0, k));
}

describe('reduced-precision rankers on the demo world', function () {
  this.timeout(120_000);
  let root = '';
  let bundle: Bundle;
  let catalog: LiveCatalog;

  before(async () => {
    root = await tmpDir('precision');
    await makeWorld(CFG, root);
    bundle = await loadBundle(worldPaths(root).bundle, { progress: false });
    catalog = new LiveCatalog(bundle, bundle.index, 0);
  });

  after(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it('calibrates on rows spread over the catalog, with every surface and device', () => {
    const s = calibrationSample(catalog, { users: 12, rowsPerUser: 5 });
    const l = featureLayout(catalog.dim);
    assert.equal(s.offsets.length, 13);
    assert.equal(s.offsets[12], 60);
    assert.equal(s.items.length, 60 * l.itemDim);
    assert.equal(s.users.length, 12 * l.userDim);
    const seen = new Set<string>();
    for (let g = 0; g < 12; g++) {
      const u = s.users.subarray(g * l.userDim, (g + 1) * l.userDim);
      const surface = [0, 1, 2, 3].find((k) => u[l.dim + 1 + k] === 1);
      const device = [0, 1, 2].find((k) => u[l.dim + 5 + k] === 1);
      seen.add(`${surface}/${device}`);
    }
    assert.equal(seen.size, 12, 'all 4 x 3 surface/device pairs');
    // Sample row i is catalog row floor((i + 0.5) n / total).
    for (const i of [0, 59]) {
      const row = Math.floor(((i + 0.5) * catalog.size) / 60);
      assert.deepEqual(Array.from(s.items.subarray(i * l.itemDim, i * l.itemDim + l.dim)), Array.from(catalog.cols.embeddings.subarray(row * l.dim, (row + 1) * l.dim)));
    }
  });

  it("the pool takes the engine's setting over the bundle's, and int8 workers score as the inline scorer", async () => {
    const withPrecision = (p: 'bf16' | 'fp32'): Bundle => ({
      ...bundle,
      manifest: { ...bundle.manifest, models: { ...bundle.manifest.models, ranker: { ...bundle.manifest.models.ranker, precision: p } } },
    });
    const opts = { threads: 1, maxQueuedRows: 10_000, inlineMaxFlops: 0 };
    const fromBundle = new ScoringPool(withPrecision('bf16'), catalog, opts);
    const overridden = new ScoringPool(withPrecision('bf16'), catalog, { ...opts, precision: 'int8' });
    try {
      assert.equal(fromBundle.precision.ranker.precision, 'bf16');
      assert.equal(overridden.precision.ranker.precision, 'int8');
      assert.equal(overridden.precision.preranker.precision, 'int8');
      // inlineMaxFlops 0: every batch goes through the worker, built from workerData.
      const l = featureLayout(CFG.dim);
      const user = userFeatures(l, catalog.cols.embeddings.subarray(0, l.dim), 0.3, 'search', 'app');
      const rows = Int32Array.from({ length: 120 }, (_, i) => (i * 31) % catalog.size);
      const now = Date.parse(CFG.referenceTime);
      const viaWorker = await overridden.score('ranker', user, rows, now);
      const inline = await Scorer.create(workerInit(bundle, catalog, 'native', { ranker: { precision: 'int8' }, preranker: { precision: 'int8' } }));
      assert.deepEqual(Array.from(viaWorker), Array.from((await inline.score('ranker', user, Int32Array.of(0, 120), rows, now)) as Float32Array));
    } finally {
      await Promise.all([fromBundle.close(), overridden.close()]);
    }
  });

  it("'auto' is resolved by timing the candidates on this CPU, once per model shape; an explicit setting is not probed", async () => {
    const opts = { threads: 1, maxQueuedRows: 10_000, inlineMaxFlops: 0 };
    const auto = await ScoringPool.create(bundle, catalog, opts);
    const again = await ScoringPool.create(bundle, catalog, opts);
    const fixed = await ScoringPool.create(bundle, catalog, { ...opts, precision: 'fp32' });
    try {
      for (const m of ['ranker', 'preranker'] as ModelName[]) {
        const probe = auto.probes[m];
        assert.ok(probe, `${m} probed`);
        const timed = Object.keys(probe.medianUs).sort();
        assert.deepEqual(timed, probeCandidates(m, onednnCpu, true).sort());
        for (const t of Object.values(probe.medianUs)) assert.ok(t > 0 && Number.isFinite(t), String(t));
        // The pool runs what the probe chose, which the rule picks from the timings.
        assert.deepEqual(auto.precision[m], chooseFromTimings(m, probe.medianUs));
        assert.ok(QUALITY_ALLOWED[m].includes(auto.precision[m].precision));
        assert.equal(again.probes[m], probe, 'the same shapes are not timed twice');
      }
      assert.deepEqual(fixed.probes, {});
      assert.deepEqual(fixed.precision.ranker, { precision: 'fp32', backend: fp32Backend(onednnCpu) });
      // Workers build what the probe chose: a worker's scores match the inline scorer's.
      const l = featureLayout(CFG.dim);
      const user = userFeatures(l, catalog.cols.embeddings.subarray(0, l.dim), 0.3, 'search', 'app');
      const rows = Int32Array.from({ length: 60 }, (_, i) => (i * 17) % catalog.size);
      const now = Date.parse(CFG.referenceTime);
      const inline = await Scorer.create(workerInit(bundle, catalog, 'native', auto.precision));
      assert.deepEqual(Array.from(await auto.score('ranker', user, rows, now)), Array.from((await inline.score('ranker', user, Int32Array.of(0, 60), rows, now)) as Float32Array));
    } finally {
      await Promise.all([auto.close(), again.close(), fixed.close()]);
    }
  });

  for (const precision of ['int8', 'bf16'] as DcnPrecision[]) {
    it(`${precision}: the top 50 of 200 candidates keeps >= 45 of fp32's, for the ranker and the pre-ranker`, async () => {
      const both = (p: DcnPrecision): Record<ModelName, PrecisionChoice> => ({ ranker: { precision: p }, preranker: { precision: p } });
      const exact = await Scorer.create(workerInit(bundle, catalog, 'native', both('fp32')));
      const reduced = await Scorer.create(workerInit(bundle, catalog, 'native', both(precision)));
      const { users } = regenerate(CFG);
      const l = featureLayout(CFG.dim);
      const now = Date.parse(CFG.referenceTime);
      const weights = bundle.manifest.defaultWeights.home;
      const rng = new Rng(11);
      const overlaps: Record<ModelName, number[]> = { ranker: [], preranker: [] };
      let maxDiff = 0;
      for (let u = 0; u < 20; u++) {
        const user = userFeatures(l, users.pref.subarray(u * l.dim, (u + 1) * l.dim), users.pricePref[u], SURFACES[u % 4], DEVICES[users.device[u]]);
        const rows = new Int32Array(200);
        const taken = new Set<number>();
        for (let i = 0; i < 200; ) {
          const r = rng.int(catalog.size);
          if (!taken.has(r)) (taken.add(r), (rows[i++] = r));
        }
        for (const model of ['ranker', 'preranker'] as ModelName[]) {
          const a = (await exact.score(model, user, Int32Array.of(0, 200), rows, now)) as Float32Array;
          const b = (await reduced.score(model, user, Int32Array.of(0, 200), rows, now)) as Float32Array;
          const h = a.length / 200;
          const util = (p: Float32Array) =>
            Float64Array.from({ length: 200 }, (_, i) => (h === 1 ? p[i] : OBJECTIVES.reduce((s, o, k) => s + (weights[o] ?? 0) * p[i * h + k], 0)));
          for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
          const ta = topSet(util(a), 50);
          overlaps[model].push([...topSet(util(b), 50)].filter((r) => ta.has(r)).length);
        }
      }
      const min = (v: number[]) => Math.min(...v);
      console.log(`      ${precision}: top-50 overlap min ${min(overlaps.ranker)} (ranker), ${min(overlaps.preranker)} (pre-ranker); max |p - p_fp32| ${maxDiff.toExponential(2)}`);
      assert.ok(min(overlaps.ranker) >= 45, `ranker overlaps ${overlaps.ranker.join(' ')}`);
      assert.ok(min(overlaps.preranker) >= 45, `pre-ranker overlaps ${overlaps.preranker.join(' ')}`);
    });
  }
});
