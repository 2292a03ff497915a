import { strict as assert } from 'node:assert';

import { runSpecs, stageFloors } from '../../bench/suite';
import type { CascadeResult } from '../../bench/suite';

const base: CascadeResult = {
  workload: 'w1',
  world: { items: 100_000, dim: 32 },
  scorer: 'native',
  heavyBudget: 0.2,
  index: { factory: 'IVF1024,Flat', nprobe: 128 },
  models: {
    // 2 x (D^2 + D*h + h*heads) with D = 10, no cross layers: 2 x (0 + 100 + 10) = 220 FLOP per row.
    ranker: { inputDim: 10, userDim: 4, crossLayers: 0, crossRank: 0, mlp: [10], heads: 1, structure: 'stacked' },
    preranker: { inputDim: 10, userDim: 4, crossLayers: 0, crossRank: 0, mlp: [10], heads: 1, structure: 'stacked' },
  },
  freshKeep: 50,
  numResults: 20,
  rerank: 0,
  concurrency: 1,
  threads: 2,
  calls: 1,
  callsPerSecond: 1,
  wallUs: { p50: 1, p90: 1, p99: 1, max: 1 },
  cpuUsPerCall: { main: 1, others: 1 },
  memory: { rssBeforeEngineMiB: 1, rssAfterMiB: 1, peakRssMiB: 1 },
  stages: [],
};

describe('bench: suite floors and run list', () => {
  it('computes each stage floor from the machine limits (hand-computed)', () => {
    const limits = { sgemmGflops: 100, sgemmBestGflops: 100, copyGBps: 40, blockReadGBps: 10, rowReadGBps: 5 };
    const fl = stageFloors(base, limits);
    // retrieval, at the block read rate: (128/1024 x 100000 + 1024) vectors x 32 floats x 4 B = 1_731_072 B at 1e10 B/s = 0.1731 ms
    assert.ok(Math.abs(fl.retrieval - 0.1731072) < 1e-9, `retrieval ${fl.retrieval}`);
    // prerank: 1000 rows x 32 x 4 B at the row read rate, 5e9 B/s (0.0256 ms) + 0.2 x 1000 x 220 FLOP at 1e11 (0.00044 ms)
    assert.ok(Math.abs(fl.prerank - (0.0256 + 0.00044)) < 1e-9, `prerank ${fl.prerank}`);
    // rank: (200 + 50) x 220 FLOP at 1e11 FLOP/s = 0.00055 ms
    assert.ok(Math.abs(fl.rank - 0.00055) < 1e-9, `rank ${fl.rank}`);
    // policy: 2 x 20 x 250 x 32 FLOP at 1e11 = 0.0032 ms
    assert.ok(Math.abs(fl.policy - 0.0032) < 1e-9, `policy ${fl.policy}`);
  });

  it('counts scanned codes at their stored size: SQfp16 2 bytes, SQ8 1 byte per component', () => {
    const limits = { sgemmGflops: 100, sgemmBestGflops: 100, copyGBps: 40, blockReadGBps: 10, rowReadGBps: 5 };
    // (12500 x 32 x 2 B + 1024 x 32 x 4 B) at 1e10 B/s = 0.0931072 ms
    const fp16 = stageFloors({ ...base, index: { factory: 'IVF1024,SQfp16', nprobe: 128 } }, limits);
    assert.ok(Math.abs(fp16.retrieval - 0.0931072) < 1e-9, `SQfp16 ${fp16.retrieval}`);
    // (12500 x 32 x 1 B + 1024 x 32 x 4 B) at 1e10 B/s = 0.0531072 ms
    const sq8 = stageFloors({ ...base, index: { factory: 'IVF1024,SQ8', nprobe: 128 } }, limits);
    assert.ok(Math.abs(sq8.retrieval - 0.0531072) < 1e-9, `SQ8 ${sq8.retrieval}`);
  });

  it('has no retrieval floor in re-rank mode, and pre-ranks the given rows', () => {
    const fl = stageFloors({ ...base, rerank: 500 }, { sgemmGflops: 100, sgemmBestGflops: 100, copyGBps: 40, blockReadGBps: 10, rowReadGBps: 5 });
    assert.equal(fl.retrieval, undefined);
    assert.ok(Math.abs(fl.prerank - (500 * 32 * 4 / 5e9 + 0.2 * 500 * 220 / 1e11) * 1e3) < 1e-9);
  });

  it('reads the copy rate for both read patterns in result files that predate them', () => {
    const fl = stageFloors(base, { sgemmGflops: 100, sgemmBestGflops: 100, copyGBps: 10 });
    assert.ok(Math.abs(fl.retrieval - 0.1731072) < 1e-9, `retrieval ${fl.retrieval}`);
    assert.ok(Math.abs(fl.prerank - (0.0128 + 0.00044)) < 1e-9, `prerank ${fl.prerank}`);
  });

  it('runs every workload and baseline once, with the 1M world marked', () => {
    const specs = runSpecs(false);
    const names = specs.map((s) => s.name);
    assert.equal(new Set(names).size, names.length, 'unique result names');
    for (const n of ['w1', 'w1-pool', 'w1-ort', 'w1-ts', 'w1-heavy-all', 'w1-c4-pool', 'w1-c4-pool-1worker', 'w1-idle10', 'w2', 'w2-flat512', 'w2-mixed', 'w3']) assert.ok(names.includes(n), n);
    assert.deepEqual(specs.filter((s) => s.needs1m).map((s) => s.name), ['w2', 'w2-flat512', 'w2-4k-pages', 'w2-mixed']);
    assert.deepEqual(specs.find((s) => s.name === 'w2-4k-pages')!.env, { RANK_HUGE_PAGES: '0' }, 'the catalog on 4 KiB pages');
    assert.equal(specs.find((s) => s.name === 'w2')!.env, undefined, 'the default advises huge pages');
    assert.deepEqual(specs.find((s) => s.name === 'w2-flat512')!.args.slice(2, 4), ['--factory', 'world'], "the world's own index");
    assert.deepEqual(specs.find((s) => s.name === 'w2-mixed')!.args.slice(2, 4), ['--events-every', '6'], 'one RecordEvents per five Rank calls');
    const quick = runSpecs(true).find((s) => s.name === 'w1')!;
    assert.deepEqual(quick.args.slice(-2), ['--calls', '300'], 'quick mode runs a tenth of the calls');
  });
});
