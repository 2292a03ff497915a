// The evaluator end to end on a tiny world: a real RankingService over gRPC,
// every configuration requested, the report's structure, and the oracle list
// scoring NDCG 1 through the same code path as the engine's lists. The world
// has 20k items, so its index is IVF (512 lists): probing every list must
// match the exact top K computed by the evaluator.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { writeReport } from '../../../tools/eval/report';
import { DEFAULT_EPSILONS, DEFAULT_ROUTING_BUDGETS, EvalReport, runEval } from '../../../tools/eval/run';
import { DEFAULT_WORLD } from '../../../tools/world/schema';

// Fewer budgets and lambdas than the defaults keep the test short.
const BUDGETS = [0, 0.05, 0.1, 0.2, 1];
const LAMBDAS = [0.5, 0.9];
const USERS = 8;

describe('eval: end to end on a tiny world', function () {
  this.timeout(60_000);
  let root = '';
  let report: EvalReport;

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rank-eval-'));
    report = await runEval({
      root: path.join(root, 'world'),
      world: { ...DEFAULT_WORLD, items: 20_000, users: 100, dim: 16 },
      users: USERS,
      seed: 3,
      threads: 1,
      budgets: BUDGETS,
      lambdas: LAMBDAS,
      command: 'test',
      search: [{ nprobe: 1 }, { nprobe: 64 }, { nprobe: 512 }],
      reactivityUsers: 5,
      bootstrapIters: 200,
      interestUsers: 6,
      calibrations: [0, 0.9],
    });
  });

  after(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it('scores the oracle list itself at NDCG 1 and recall 1', () => {
    assert.ok(Math.abs(report.oracleCheck.ndcg10 - 1) < 1e-9, `oracle NDCG@10 ${report.oracleCheck.ndcg10}`);
    assert.ok(Math.abs(report.oracleCheck.ndcg50 - 1) < 1e-9, `oracle NDCG@50 ${report.oracleCheck.ndcg50}`);
    assert.equal(report.oracleCheck.recall50, 1);
  });

  it('samples both segments and the three surfaces', () => {
    assert.equal(report.sample.users, USERS);
    assert.ok((report.sample.segments.returning ?? 0) > 0 && (report.sample.segments.new ?? 0) > 0, JSON.stringify(report.sample.segments));
    assert.deepEqual(Object.keys(report.sample.surfaces).sort(), ['browse', 'home', 'search']);
    assert.equal(report.world.items, 20_000);
    assert.equal(report.world.index.factory, 'IVF512,Flat');
  });

  it('reports users with several interests before and after, and the calibration sweep', () => {
    const x = report.interests;
    assert.equal(x.table.length, 8);
    assert.deepEqual(x.sweep.map((p) => p.calibration), [0, 0.9]);
    for (const p of [...x.table, ...x.sweep, x.several.beforePages, x.several.afterPages, x.one.beforePages, x.one.afterPages]) {
      assert.ok(p.coverage >= 0 && p.coverage <= 1 && p.largestShare > 0 && p.largestShare <= 1 && p.miscalibration >= 0 && p.categories >= 1, JSON.stringify(p));
    }
    assert.equal(x.several.users, 6);
    assert.ok(x.history.users === 6 && x.history.coverage > 0 && x.history.coverage <= 1 && x.history.oneCategoryUsers <= 6, JSON.stringify(x.history));
    assert.ok(x.allUsers.oneVector > 0 && Math.abs(x.allUsers.ratio - x.allUsers.engine / x.allUsers.oneVector) < 1e-12);
    assert.ok(report.configs['engine-one-vector'].ndcg50 > 0);
  });

  it('has every configuration with metrics in range', () => {
    const names = ['random', 'popularity', 'two-tower', 'engine', 'engine+exploration', 'engine-one-vector', 'no-shortcuts', 'div-none'];
    names.push(...BUDGETS.map((b) => `hap-${b}`), ...LAMBDAS.flatMap((l) => [`mmr-${l}`, `dpp-${l}`]));
    names.push(...DEFAULT_ROUTING_BUDGETS.map((b) => `hap-top-${b}`), 'ann-nprobe-1', 'ann-nprobe-64', 'ann-nprobe-512');
    names.push(...DEFAULT_EPSILONS.map((e) => `explore-e${e}-k5`), 'explore-e0.1-k1', 'explore-e0.1-k10');
    names.push('precision-fp32-reference', 'precision-int8', 'precision-bf16');
    assert.deepEqual(Object.keys(report.configs).sort(), names.sort());
    for (const c of Object.values(report.configs)) {
      assert.equal(c.requests, USERS, c.name);
      for (const v of [c.ndcg10, c.ndcg50, c.recall50]) assert.ok(v >= 0 && v <= 1 + 1e-9, `${c.name}: ${v}`);
      assert.ok(c.distinctCategories20 >= 1 && c.distinctCategories20 <= 20, c.name);
      assert.ok(c.maxBrandRun >= 1, c.name);
      if (c.options !== null) {
        assert.ok(c.prerankMs !== null && c.prerankMs >= 0, `${c.name}: prerank ms from the debug stages`);
        assert.ok(c.requestMs !== null && c.requestMs > 0, c.name);
      }
    }
    // The engine is far better than chance; the lists are full.
    assert.ok(report.configs.engine.ndcg50 > report.configs.random.ndcg50, 'engine vs random');
    assert.equal(report.configs.engine.length, 50);
    // No-shortcuts and budget 1.0 send the strong pre-ranker the whole candidate set.
    assert.ok(report.configs['hap-1'].strongFraction! > 0.9, `strong share at 1.0: ${report.configs['hap-1'].strongFraction}`);
    assert.equal(report.configs['hap-0'].strongFraction, 0);
  });

  it('has the headline, the HAP curve and the diversity points', () => {
    const h = report.headline;
    assert.equal(h.engineNdcg50, report.configs.engine.ndcg50);
    assert.ok(Math.abs(h.vsPopularity - h.engineNdcg50 / h.popularityNdcg50) < 1e-12);
    assert.ok(Math.abs(h.vsNoShortcuts - h.engineNdcg50 / h.noShortcutsNdcg50) < 1e-12);
    assert.deepEqual(report.hap.curve.map((c) => c.budget), BUDGETS);
    assert.ok(report.hap.ratioNdcg50At20vs100 !== null && report.hap.ratioPrerankMsAt20vs100 !== null);
    assert.equal(report.diversity.points.length, 1 + 2 * LAMBDAS.length);
    assert.ok(report.diversity.points.some((p) => p.pareto));
    assert.ok(report.date && report.commit && report.command === 'test');
  });

  it('measures index search recall against the exact top K', () => {
    const a = report.ann;
    assert.equal(a.k, 1000);
    assert.deepEqual(a.curve.map((p) => [p.label, p.isDefault]), [['nprobe 1', false], ['nprobe 64', true], ['nprobe 512', false]]);
    assert.ok(a.usersMeasured > 0 && a.usersMeasured + a.coldUsersSkipped === USERS, JSON.stringify(a));
    // The evaluator's user embedding reproduces the engine's light scores.
    assert.ok(a.embeddingCheck.items > 0 && a.embeddingCheck.maxAbsDiff < 1e-4, JSON.stringify(a.embeddingCheck));
    const [p1, p64, p512] = a.curve;
    // Every list probed: the index's top K is the exact top K.
    assert.ok(p512.recallAtK.mean > 0.999 && p512.recallAt50.mean > 0.999, `${p512.recallAtK.mean} ${p512.recallAt50.mean}`);
    assert.ok(p1.recallAtK.mean < p64.recallAtK.mean && p64.recallAtK.mean <= p512.recallAtK.mean + 1e-9, a.curve.map((p) => p.recallAtK.mean).join(' '));
    assert.equal(a.defaultRecallAtK, p64.recallAtK.mean);
    assert.equal(a.targets.met, null); // the target is for the 1M world
    // The default setting is the engine's own list; the others come from their engines.
    assert.equal(report.configs['ann-nprobe-64'].ndcg50, report.configs.engine.ndcg50);
    assert.equal(report.configs['ann-nprobe-1'].engine, 'search nprobe 1');
    assert.ok(p1.ndcg50.mean < p512.ndcg50.mean, `NDCG@50 at nprobe 1 ${p1.ndcg50.mean}, at 512 ${p512.ndcg50.mean}`);
  });

  it('breaks NDCG down by segment and surface, consistently with the overall mean', () => {
    for (const c of Object.values(report.configs)) {
      assert.deepEqual(Object.keys(c.bySurface), ['home', 'browse', 'search'], c.name);
      for (const by of [c.bySurface, c.bySegment]) {
        const groups = Object.values(by);
        assert.equal(groups.reduce((a, g) => a + g.users, 0), USERS, c.name);
        for (const g of groups) assert.ok(g.ndcg50 >= 0 && g.ndcg50 <= 1 + 1e-9 && g.ndcg10 >= 0 && g.ndcg10 <= 1 + 1e-9, c.name);
        // The user-weighted mean of the groups is the overall mean.
        const w50 = groups.reduce((a, g) => a + g.users * g.ndcg50, 0) / USERS;
        assert.ok(Math.abs(w50 - c.ndcg50) < 1e-9, `${c.name}: ${w50} vs ${c.ndcg50}`);
      }
      for (const [s, g] of Object.entries(c.bySurface)) assert.equal(g.users, report.sample.surfaces[s], `${c.name} ${s}`);
    }
  });

  it('scores every list per objective against the oracle of that objective', () => {
    const ob = report.objectives;
    assert.deepEqual(ob.names, ['click', 'wishlist', 'cart', 'purchase']);
    assert.ok(Math.abs(ob.selfCheckNdcg50 - 1) < 1e-6, `${ob.selfCheckNdcg50}`);
    for (const o of ob.names) {
      // The weighted oracle is good but not ideal on each objective.
      assert.ok(ob.weightedOracle[o].ndcg50 > 0.5 && ob.weightedOracle[o].ndcg50 <= 1 + 1e-9, `${o}: ${ob.weightedOracle[o].ndcg50}`);
    }
    for (const c of Object.values(report.configs)) {
      assert.deepEqual(Object.keys(c.byObjective), ob.names, c.name);
      for (const o of ob.names) {
        const v = c.byObjective[o];
        assert.ok(v.ndcg10 >= 0 && v.ndcg10 <= 1 + 1e-9 && v.ndcg50 >= 0 && v.ndcg50 <= 1 + 1e-9, `${c.name} ${o}`);
        assert.equal(v.ndcg50Ci.mean, v.ndcg50);
      }
    }
    for (const o of ob.names) {
      assert.ok(report.configs.engine.byObjective[o].ndcg50 > report.configs.random.byObjective[o].ndcg50, o);
    }
  });

  it('measures retrieval recall against the true top items', () => {
    const rt = report.retrieval;
    const a = report.ann;
    assert.equal(rt.k, 1000);
    assert.equal(rt.trueTopN, 100);
    assert.equal(rt.warmUsers, a.usersMeasured);
    assert.equal(rt.coldUsers, a.coldUsersSkipped);
    assert.equal(rt.exactReference.k, 5000);
    for (const i of [rt.index, rt.indexPlusFresh, rt.exact, rt.exactReference.recall]) {
      assert.equal(i.n, rt.warmUsers);
      assert.ok(i.mean >= 0 && i.mean <= 1, JSON.stringify(i));
    }
    // Supersets hold at least as much of the truth.
    assert.ok(rt.indexPlusFresh.mean >= rt.index.mean - 1e-12);
    assert.ok(rt.exactReference.recall.mean >= rt.exact.mean - 1e-12);
    // The ANN curve's default point is the same measurement; probing every list is exact.
    const [p1, p64, p512] = a.curve;
    assert.equal(p64.truthRecall.mean, rt.index.mean);
    assert.ok(Math.abs(p512.truthRecall.mean - rt.exact.mean) < 0.01, `${p512.truthRecall.mean} vs ${rt.exact.mean}`);
    assert.ok(p1.truthRecall.mean <= p512.truthRecall.mean + 1e-9);
    // The top K by the two-tower score holds far more of the truth than K random rows would (K / items = 0.05).
    assert.ok(rt.exact.mean > 0.1, `${rt.exact.mean}`);
    assert.equal(rt.coldPopularPlusFresh === null, rt.coldUsers === 0);
    assert.equal(Object.values(rt.indexBySurface).reduce((s, g) => s + g.users, 0), rt.warmUsers);
  });

  it('compares HAP routing with top-B routing at the same budgets', () => {
    const rows = report.hap.routing.rows;
    assert.deepEqual(rows.map((r) => r.budget), DEFAULT_ROUTING_BUDGETS);
    for (const r of rows) {
      assert.equal(r.uncertaintyNdcg50, report.configs[`hap-${r.budget}`].ndcg50);
      assert.equal(r.topNdcg50, report.configs[`hap-top-${r.budget}`].ndcg50);
      assert.ok(Math.abs(r.difference.mean - (r.uncertaintyNdcg50 - r.topNdcg50)) < 1e-9);
      assert.ok(Math.abs(report.configs[`hap-top-${r.budget}`].strongFraction! - r.budget) < 0.01, `${r.budget}`);
      assert.equal(report.configs[`hap-top-${r.budget}`].engine, 'top-routing');
    }
    assert.equal(report.hap.targets.beatsTopAt20, rows[2].difference.mean > 0);
  });

  it('measures exploration by position and novelty', () => {
    const x = report.exploration;
    assert.ok(x.catalogNewShare > 0.02 && x.catalogNewShare < 0.1, `${x.catalogNewShare}`);
    const row = (e: number, k: number) => x.rows.find((r) => r.epsilon === e && r.start === k)!;
    for (const r of x.rows) {
      assert.equal(r.newByPosition.length, 50);
      assert.ok(r.newByPosition.every((v) => v >= 0 && v <= 1));
    }
    // epsilon 0 places nothing by exploration; 0.2 places some, all of them new.
    assert.equal(row(0, 5).explorationShare, 0);
    assert.ok(row(0.2, 5).explorationShare > 0.05, `${row(0.2, 5).explorationShare}`);
    assert.ok(row(0.2, 5).newShare >= row(0.2, 5).explorationShare - 1e-9);
    assert.ok(row(0.2, 5).newShare > row(0, 5).newShare);
  });

  it('measures reactivity through RecordEvents', () => {
    const r = report.reactivity;
    assert.equal(r.users, 5);
    assert.equal(r.eventsSent, 5 * (r.clicks + r.carts));
    assert.equal(r.eventsAccepted, r.eventsSent);
    assert.ok(r.after.mean > r.before.mean, `before ${r.before.mean}, after ${r.after.mean}`);
    assert.ok(r.afterOtherItems.mean <= r.after.mean);
  });

  it('has intervals around the headline numbers', () => {
    const c = report.headline.ci;
    for (const i of [c.engineNdcg50, c.popularityNdcg50, c.noShortcutsNdcg50, c.twoTowerNdcg50]) {
      assert.equal(i.n, USERS);
      assert.ok(i.lo <= i.mean && i.mean <= i.hi && i.stderr > 0, JSON.stringify(i));
    }
    assert.equal(c.engineNdcg50.mean, report.headline.engineNdcg50);
    assert.ok(c.vsPopularity.lo <= c.vsPopularity.hi && c.vsPopularity.lo > 0);
    assert.ok(c.vsNoShortcuts.lo <= c.vsNoShortcuts.hi && c.vsNoShortcuts.lo > 0);
  });

  it('writes report.json, report.md and the SVG plots', async () => {
    const out = path.join(root, 'out');
    const files = await writeReport(report, out);
    assert.deepEqual(
      files.map((f) => path.basename(f)).sort(),
      ['ann-search.svg', 'baselines.svg', 'diversity-pareto.svg', 'exploration-position.svg', 'hap-budget.svg', 'interests-calibration.svg', 'report.json', 'report.md'],
    );
    const json = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8')) as EvalReport;
    assert.equal(json.headline.engineNdcg50, report.headline.engineNdcg50);
    const md = await fs.readFile(path.join(out, 'report.md'), 'utf8');
    for (const s of [
      '## Headline',
      '## HAP heavy budget',
      '### HAP routing vs top-B routing',
      '## Index search (ANN) vs exact',
      '## Diversity trade-off',
      '## Exploration and novelty',
      '## Reactivity',
      '## Reduced precision',
      '### Per objective',
      '## Retrieval recall against the true top items',
      'By segment and by surface',
      'engine / popularity',
      'engine / no-shortcuts',
    ]) {
      assert.ok(md.includes(s), s);
    }
    for (const f of ['hap-budget.svg', 'diversity-pareto.svg', 'baselines.svg', 'ann-search.svg', 'exploration-position.svg', 'interests-calibration.svg']) {
      const svg = await fs.readFile(path.join(out, f), 'utf8');
      assert.match(svg, /^<svg /);
      assert.ok(svg.trimEnd().endsWith('</svg>') && !svg.includes('NaN'), f);
    }
  });
});
