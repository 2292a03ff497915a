// The evaluator end to end on a tiny world: a real RankingService over gRPC,
// every configuration requested, the report's structure, and the oracle list
// scoring NDCG 1 through the same code path as the engine's lists.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { writeReport } from '../../src/eval/report';
import { DEFAULT_BUDGETS, DEFAULT_LAMBDAS, EvalReport, runEval } from '../../src/eval/run';
import { DEFAULT_WORLD } from '../../src/world/schema';

describe('eval: end to end on a tiny world', function () {
  this.timeout(60_000);
  let root = '';
  let report: EvalReport;

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rank-eval-'));
    report = await runEval({
      root: path.join(root, 'world'),
      world: { ...DEFAULT_WORLD, items: 3000, users: 100, dim: 16 },
      users: 10,
      seed: 3,
      threads: 1,
      budgets: DEFAULT_BUDGETS,
      lambdas: DEFAULT_LAMBDAS,
      command: 'test',
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
    assert.equal(report.sample.users, 10);
    assert.ok((report.sample.segments.returning ?? 0) > 0 && (report.sample.segments.new ?? 0) > 0, JSON.stringify(report.sample.segments));
    assert.deepEqual(Object.keys(report.sample.surfaces).sort(), ['browse', 'home', 'search']);
    assert.equal(report.world.items, 3000);
  });

  it('has every configuration with metrics in range', () => {
    const names = ['random', 'popularity', 'two-tower', 'engine', 'engine+exploration', 'no-shortcuts', 'div-none'];
    names.push(...DEFAULT_BUDGETS.map((b) => `hap-${b}`), ...DEFAULT_LAMBDAS.flatMap((l) => [`mmr-${l}`, `dpp-${l}`]));
    assert.deepEqual(Object.keys(report.configs).sort(), names.sort());
    for (const c of Object.values(report.configs)) {
      assert.equal(c.requests, 10, c.name);
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
    assert.deepEqual(report.hap.curve.map((c) => c.budget), DEFAULT_BUDGETS);
    assert.ok(report.hap.ratioNdcg50At20vs100 !== null && report.hap.ratioPrerankMsAt20vs100 !== null);
    assert.equal(report.diversity.points.length, 1 + 2 * DEFAULT_LAMBDAS.length);
    assert.ok(report.diversity.points.some((p) => p.pareto));
    assert.ok(report.date && report.commit && report.command === 'test');
  });

  it('writes report.json, report.md and the SVG plots', async () => {
    const out = path.join(root, 'out');
    const files = await writeReport(report, out);
    assert.deepEqual(files.map((f) => path.basename(f)).sort(), ['baselines.svg', 'diversity-pareto.svg', 'hap-budget.svg', 'report.json', 'report.md']);
    const json = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8')) as EvalReport;
    assert.equal(json.headline.engineNdcg50, report.headline.engineNdcg50);
    const md = await fs.readFile(path.join(out, 'report.md'), 'utf8');
    for (const s of ['## Headline', '## HAP heavy budget', '## Diversity trade-off', 'engine / popularity', 'engine / no-shortcuts']) assert.ok(md.includes(s), s);
    for (const f of ['hap-budget.svg', 'diversity-pareto.svg', 'baselines.svg']) {
      const svg = await fs.readFile(path.join(out, f), 'utf8');
      assert.match(svg, /^<svg /);
      assert.ok(svg.trimEnd().endsWith('</svg>') && !svg.includes('NaN'), f);
    }
  });
});
