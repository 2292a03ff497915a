// The evaluator's reduced-precision section: the comparison on hand-made
// runs (overlap, ratio, the bar), then end to end on a tiny world through the
// gRPC API, where a second fp32 engine must reproduce the fp32 reference
// exactly (ratio 1, overlap 50) and int8 and bf16 give well-formed numbers.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { parsePrecisions } from '../../../tools/eval/cli';
import { comparePrecision, cpuFlags, PRECISION_BAR, PrecisionRun, topOverlap } from '../../../tools/eval/precision';
import { markdown, precisionTable } from '../../../tools/eval/report';
import { EvalReport, runEval } from '../../../tools/eval/run';
import { onednnCpu } from '../../../src/native';
import { QUALITY_ALLOWED } from '../../../src/native/precision-probe';
import { DEFAULT_WORLD } from '../../../tools/world/schema';

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

/** n requests whose lists are 0..49 shifted by the request index, with the given NDCGs. */
function run(n: number, ndcg50: number, lists?: number[][]): PrecisionRun {
  return {
    ndcg10: new Array<number>(n).fill(ndcg50),
    ndcg50: Array.from({ length: n }, (_, i) => ndcg50 + (i % 2 === 0 ? 0.01 : -0.01)),
    lists: lists ?? Array.from({ length: n }, (_, i) => range(100 * i, 100 * i + 50)),
  };
}

describe('eval: reduced precision against fp32', () => {
  const random = () => 0.5;

  it('counts the items two top-k lists share, whatever their order', () => {
    assert.equal(topOverlap([1, 2, 3], [3, 2, 1], 3), 3);
    assert.equal(topOverlap([1, 2, 3, 4], [4, 9, 1, 8], 4), 2);
    // Only the first k of each count; duplicates once.
    assert.equal(topOverlap([1, 2, 3, 4], [4, 3, 2, 1], 2), 0);
    assert.equal(topOverlap([1, 1, 2], [1, 1, 1], 3), 1);
    assert.equal(topOverlap([], [1], 5), 0);
    assert.throws(() => topOverlap([1], [1], -1), /k must be a non-negative integer/);
  });

  it('gives ratio 1, overlap 50 and a pass for identical runs', () => {
    const ref = run(20, 0.6);
    const row = comparePrecision('int8', 'x', ref, run(20, 0.6), random, 50);
    assert.equal(row.ndcg50Ratio.ratio, 1);
    assert.equal(row.ndcg50Ratio.lo, 1);
    assert.equal(row.ndcg50Difference.mean, 0);
    assert.deepEqual(row.overlap, { mean: 50, min: 50, shareAtLeastBar: 1 });
    assert.equal(row.identicalShare, 1);
    assert.equal(row.requests, 20);
    assert.deepEqual(row.failures, []);
    assert.equal(row.pass, true);
  });

  it('fails the overlap part when too many requests keep fewer than 45 of the fp32 top 50', () => {
    const ref = run(50, 0.6);
    // Request 0 keeps 44 (6 replaced), request 1 keeps 45 (5 replaced, and reordered): 49 of 50 at >= 45 is exactly 98%.
    const lists = ref.lists.map((l) => [...l]);
    lists[0] = [...lists[0].slice(0, 44), ...range(9000, 9006)];
    lists[1] = [...range(9100, 9105), ...lists[1].slice(0, 45).reverse()];
    const ok = comparePrecision('int8', 'x', ref, { ...ref, lists }, random, 50);
    assert.equal(ok.overlap.min, 44);
    assert.equal(ok.overlap.shareAtLeastBar, 0.98);
    assert.ok(Math.abs(ok.overlap.mean - (48 * 50 + 44 + 45) / 50) < 1e-12);
    assert.equal(ok.identicalShare, 48 / 50);
    assert.equal(ok.pass, true, ok.failures.join('; '));
    // One more request at 44: 96% < 98%.
    lists[2] = [...lists[2].slice(0, 44), ...range(9200, 9206)];
    const bad = comparePrecision('int8', 'x', ref, { ...ref, lists }, random, 50);
    assert.equal(bad.pass, false);
    assert.deepEqual(bad.failures, ['top-50 overlap >= 45 in 96.0% of requests < 98%']);
  });

  it('fails the NDCG part below 0.995 x fp32, naming the ratio', () => {
    const ref = run(10, 0.6);
    const worse = { ...ref, ndcg50: ref.ndcg50.map((v) => v * 0.99) };
    const row = comparePrecision('bf16', 'x', ref, worse, random, 50);
    assert.ok(Math.abs(row.ndcg50Ratio.ratio - 0.99) < 1e-12);
    assert.ok(row.ndcg50Difference.mean < 0);
    assert.deepEqual(row.failures, ['NDCG@50 ratio 0.9900 < 0.995']);
    assert.equal(row.pass, false);
    // Exactly at the bar passes.
    const one = run(1, 0.6);
    const edge = comparePrecision('bf16', 'x', { ...one, ndcg50: [1] }, { ...one, ndcg50: [PRECISION_BAR.ndcg50RatioAtLeast] }, random, 50);
    assert.equal(edge.pass, true, edge.failures.join('; '));
  });

  it('refuses runs of different lengths', () => {
    assert.throws(() => comparePrecision('int8', 'x', run(5, 0.5), run(4, 0.5), random, 10), /int8: ndcg10 has 4 requests, the reference 5/);
  });

  it('reads the relevant CPU flags from /proc/cpuinfo text', () => {
    const flags = cpuFlags('processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16\nbugs\t\t: none\n');
    assert.deepEqual(flags, { avx512_vnni: true, avx_vnni: false, avx512_bf16: true, amx_tile: false, amx_int8: false, amx_bf16: false });
    assert.equal(cpuFlags(null), null);
    assert.equal(cpuFlags('no flags here'), null);
  });

  it('parses --precisions', () => {
    assert.deepEqual(parsePrecisions(undefined), ['int8', 'bf16']);
    assert.deepEqual(parsePrecisions('none'), []);
    assert.deepEqual(parsePrecisions('fp32,int8,int8'), ['fp32', 'int8']);
    assert.throws(() => parsePrecisions('int4'), /--precisions must list int8, bf16 or fp32 \(or be none\), got int4/);
  });
});

describe('eval: the reduced-precision section end to end on a tiny world', function () {
  this.timeout(120_000);
  const USERS = 12;
  let root = '';
  let report: EvalReport;

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rank-eval-precision-'));
    report = await runEval({
      root: path.join(root, 'world'),
      world: { ...DEFAULT_WORLD, items: 5000, users: 80, dim: 16 },
      users: USERS,
      seed: 5,
      threads: 1,
      // The other sections as small as they go.
      budgets: [0.2],
      lambdas: [],
      routingBudgets: [],
      epsilons: [],
      explorationStarts: [],
      search: [{}],
      reactivityUsers: 0,
      bootstrapIters: 200,
      precisions: ['fp32', 'int8', 'bf16'],
      command: 'test',
    });
  });

  after(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it("records the CPU and what 'auto' picks on it", () => {
    const p = report.precision!;
    assert.ok(p !== null);
    assert.deepEqual(p.cpu.onednn, { ...onednnCpu });
    // The default engine runs 'auto': the probe's choice among what the bar allows.
    assert.deepEqual(p.auto, p.defaultEngine);
    assert.ok(QUALITY_ALLOWED.ranker.includes(p.auto.ranker), p.auto.ranker);
    assert.ok(QUALITY_ALLOWED.preranker.includes(p.auto.preranker), p.auto.preranker);
    if (process.platform === 'linux') assert.deepEqual(Object.keys(p.cpu.flags ?? {}), ['avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_tile', 'amx_int8', 'amx_bf16']);
    assert.deepEqual(p.bar, PRECISION_BAR);
  });

  it('a second fp32 engine gives exactly the reference: ratio 1, overlap 50', () => {
    const p = report.precision!;
    assert.deepEqual(p.rows.map((r) => r.precision), ['fp32', 'int8', 'bf16']);
    const fp32 = p.rows[0];
    assert.equal(fp32.engine, 'precision fp32');
    assert.notEqual(fp32.engine, p.reference.engine, 'two engines, not one answer compared with itself');
    assert.equal(fp32.requests, USERS);
    assert.equal(fp32.ndcg50Ratio.ratio, 1);
    assert.equal(fp32.ndcg50Ratio.lo, 1);
    assert.equal(fp32.ndcg50Ratio.hi, 1);
    assert.equal(fp32.ndcg50.mean, p.reference.ndcg50.mean);
    assert.equal(fp32.ndcg10.mean, p.reference.ndcg10.mean);
    assert.deepEqual(fp32.overlap, { mean: 50, min: 50, shareAtLeastBar: 1 });
    assert.equal(fp32.identicalShare, 1);
    assert.equal(fp32.pass, true);
  });

  it('int8 and bf16 give well-formed numbers, and the verdict follows them', () => {
    const p = report.precision!;
    for (const r of p.rows) {
      assert.equal(r.requests, USERS, r.precision);
      for (const i of [r.ndcg10, r.ndcg50]) {
        assert.equal(i.n, USERS);
        assert.ok(i.mean > 0 && i.mean <= 1 + 1e-9 && i.lo <= i.mean && i.mean <= i.hi, `${r.precision}: ${JSON.stringify(i)}`);
      }
      const q = r.ndcg50Ratio;
      assert.ok(Math.abs(q.ratio - r.ndcg50.mean / p.reference.ndcg50.mean) < 1e-9, r.precision);
      assert.ok(q.lo <= q.ratio + 1e-12 && q.ratio <= q.hi + 1e-12 && q.lo > 0, `${r.precision}: ${JSON.stringify(q)}`);
      assert.ok(Math.abs(r.ndcg50Difference.mean - (r.ndcg50.mean - p.reference.ndcg50.mean)) < 1e-9, r.precision);
      assert.ok(Number.isInteger(r.overlap.min) && r.overlap.min >= 0 && r.overlap.min <= r.overlap.mean && r.overlap.mean <= 50, `${r.precision}: ${JSON.stringify(r.overlap)}`);
      assert.ok(r.overlap.shareAtLeastBar >= 0 && r.overlap.shareAtLeastBar <= 1 && r.identicalShare <= r.overlap.shareAtLeastBar);
      const expectPass = q.ratio >= PRECISION_BAR.ndcg50RatioAtLeast && r.overlap.shareAtLeastBar >= PRECISION_BAR.overlapShareAtLeast;
      assert.equal(r.pass, expectPass, `${r.precision}: ${r.failures.join('; ')}`);
      assert.equal(r.failures.length === 0, r.pass);
    }
    assert.equal(p.allPass, p.rows.every((r) => r.pass));
    // Engines built for the section, one per precision.
    assert.equal(p.reference.engine, 'fp32 reference');
    assert.deepEqual(p.rows.map((r) => r.engine), ['precision fp32', 'precision int8', 'precision bf16']);
    assert.equal(report.configs['precision-int8'].engine, 'precision int8');
    // Each engine's lists are scored as the evaluator's configurations.
    assert.equal(report.configs['precision-int8'].ndcg50, p.rows[1].ndcg50.mean);
    assert.equal(report.configs['precision-fp32-reference'].ndcg50, p.reference.ndcg50.mean);
  });

  it('puts the section in report.md and the table on one line per precision', () => {
    const md = markdown(report);
    assert.ok(md.includes('## Reduced precision'));
    assert.ok(md.includes(`'auto' picks (by timing the candidates at load) ${report.precision!.auto.ranker} for the ranker and ${report.precision!.auto.preranker} for the strong pre-ranker on this CPU`));
    const table = precisionTable(report.precision!);
    assert.equal(table.length, 2 + 1 + 3);
    assert.match(table[3], /^\| fp32 \| precision fp32 \| .* \| 1\.0000 \(1\.0000-1\.0000\) \| 100\.0% \| 50\.00 \| 50 \| 100\.0% \| pass \|$/);
    for (const line of table) assert.ok(md.includes(line));
    assert.ok(!md.includes('NaN'));
  });
});
