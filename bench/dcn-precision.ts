// The rankers' forward pass per precision: fp32 on the packed kernels
// (native/gemm.cc, the exact path), fp32, bf16 and int8 through oneDNN
// (native/dnnl_matmul.cc), timed in interleaved rounds on one thread. Shapes:
// the W2 (1M-item, d = 64) world's ranker and strong pre-ranker, and one
// 200 x 256 x 256 layer (the size of the published oneDNN figures). Writes
// bench/results/dcn-precision.{json,md} with the CPU's model and ISA flags.
//
//   node dist/bench/dcn-precision.js [--quick] [--rows=200] [--out=dcn-precision]
import { execSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { featureLayout } from '../src/models/layout';
import { autoPrecision, DcnModel, DcnShape, onednnCpu } from '../src/native';
import type { DcnCalibration, DcnModelOptions } from '../src/native';
import { prerankerShape, rankerShape } from '../tools/world/models';
import { Rng, Timing, maxAbsDiff, randomDcnWeights, timeInterleaved } from './bench-util';

interface Args {
  quick: boolean;
  rows: number;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, rows: 200, out: 'dcn-precision' };
  for (const s of argv) {
    if (s === '--quick') a.quick = true;
    else if (s.startsWith('--rows=')) {
      a.rows = Number(s.slice('--rows='.length));
      if (!Number.isInteger(a.rows) || a.rows < 1) throw new Error(`--rows must be a positive integer, got ${s}`);
    } else if (s.startsWith('--out=')) a.out = s.slice('--out='.length);
    else throw new Error(`unknown argument ${s} (use --quick, --rows=N, --out=NAME)`);
  }
  return a;
}

const VARIANTS: { name: string; options: DcnModelOptions }[] = [
  { name: 'fp32 packed (gemm.cc)', options: { precision: 'fp32', backend: 'gemm' } },
  { name: 'fp32 oneDNN', options: { precision: 'fp32', backend: 'onednn' } },
  { name: 'bf16 oneDNN', options: { precision: 'bf16' } },
  { name: 'int8 oneDNN', options: { precision: 'int8' } },
];

interface Result {
  shape: string;
  rows: number;
  variant: string;
  kernels: string;
  timing: Timing;
  gflops: number;
  /** Max |p - p_fp32 packed| over the timed batch. */
  maxAbsDiff: number;
}

function sh(cmd: string): string {
  try {
    return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** Stand-in calibration rows drawn like the timed inputs. */
function calibration(rng: Rng, shape: DcnShape): DcnCalibration {
  const users = 16;
  const per = 64;
  return {
    users: rng.normals(users * shape.userDim),
    offsets: Int32Array.from({ length: users + 1 }, (_, g) => g * per),
    items: rng.normals(users * per * (shape.inputDim - shape.userDim)),
  };
}

async function benchShape(name: string, shape: DcnShape, rows: number, quick: boolean, log: (s: string) => void): Promise<Result[]> {
  const rng = new Rng(rows * 7 + shape.inputDim);
  const w = randomDcnWeights(shape, rng);
  const calib = calibration(rng, shape);
  const models = VARIANTS.map((v) => new DcnModel(shape, w, { ...v.options, calibration: v.options.precision === 'int8' ? calib : undefined }));
  const user = rng.normals(shape.userDim);
  const items = rng.normals(rows * (shape.inputDim - shape.userDim));
  const outs = models.map(() => new Float32Array(rows * shape.heads));
  const timings = await timeInterleaved(
    models.map((m, i) => () => m.forward(user, items, outs[i])),
    { rounds: quick ? 3 : 8, budgetMs: quick ? 600 : 4000, warmupMs: 50 },
  );
  const flops = models[0].flops(rows);
  return VARIANTS.map((v, i) => {
    const r: Result = {
      shape: name,
      rows,
      variant: v.name,
      kernels: models[i].kernels,
      timing: timings[i],
      gflops: flops / timings[i].medianUs / 1e3,
      maxAbsDiff: maxAbsDiff(outs[i], outs[0]),
    };
    log(`${name} x ${rows}: ${v.name.padEnd(22)} median ${r.timing.medianUs.toFixed(1)} us, p99 ${r.timing.p99Us.toFixed(1)} us, ${r.gflops.toFixed(1)} GFLOP/s, max |dp| ${r.maxAbsDiff.toExponential(1)}`);
    return r;
  });
}

function markdown(meta: Record<string, unknown>, results: Result[]): string {
  const lines = [
    '# Rankers per precision (bench/dcn-precision.ts)',
    '',
    `${String(meta.date)}, commit ${String(meta.commit)}${meta.dirty ? ' (dirty)' : ''}, ${String(meta.cpu)} (${String(meta.cores)} cores), node ${String(meta.node)}, oneDNN ${String(meta.onednn)} on ${String(meta.onednnIsa)}; 'auto' picks ${String(meta.auto)}.`,
    `CPU flags: ${String(meta.isaFlags)}. Load average ${Number(meta.loadStart).toFixed(2)} at the start, ${Number(meta.loadEnd).toFixed(2)} at the end.`,
    '',
    'One thread, interleaved rounds; time per forward pass (the rankers with the user split: user part and heads in fp32).',
    ...(Math.max(Number(meta.loadStart), Number(meta.loadEnd)) > Number(meta.cores) / 2
      ? ['', `**Busy machine** (load average above half of the ${String(meta.cores)} cores): the p99s and the spread between variants are unreliable; re-run on a quiet machine before deciding.`]
      : []),
    '',
    '| shape | rows | variant | kernels | median µs | p99 µs | GFLOP/s | max \\|p − p_fp32\\| |',
    '|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.shape} | ${r.rows} | ${r.variant} | ${r.kernels} | ${r.timing.medianUs.toFixed(1)} | ${r.timing.p99Us.toFixed(1)} | ${r.gflops.toFixed(1)} | ${r.maxAbsDiff.toExponential(1)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const flags = (/^flags\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/);
  const meta: Record<string, unknown> = {
    date: new Date().toISOString(),
    commit: sh('git rev-parse --short HEAD') || 'unknown',
    dirty: sh('git status --porcelain --untracked-files=no').length > 0,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    onednn: sh("dpkg-query -W -f='${Version}' libdnnl2") || 'unknown',
    onednnIsa: onednnCpu.isa,
    auto: `ranker ${autoPrecision(onednnCpu, 'ranker')}, pre-ranker ${autoPrecision(onednnCpu, 'preranker')}`,
    isaFlags: flags.filter((f) => /^(avx2|fma|avx512(f|bw|vl|_vnni|_bf16|_fp16)|avx_vnni|amx_\w+)$/.test(f)).join(' '),
    args: argv,
    loadStart: os.loadavg()[0],
  };
  const l = featureLayout(64);
  const layer: DcnShape = { inputDim: 256, userDim: 0, crossLayers: 0, crossRank: 0, mlp: [256], heads: 1, structure: 'stacked' };
  const results: Result[] = [];
  for (const [name, shape] of [
    ['W2 ranker (D 141, 3 cross, MLP 256-128, 4 heads)', rankerShape(l)],
    ['W2 pre-ranker (D 141, 1 cross, MLP 16, 1 head)', prerankerShape(l)],
    ['one layer 256 -> 256 (+ 1 head)', layer],
  ] as [string, DcnShape][]) {
    results.push(...(await benchShape(name, shape, args.rows, args.quick, (s) => console.log(s))));
  }
  meta.loadEnd = os.loadavg()[0];
  const dir = path.join(__dirname, '..', '..', 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${args.out}.json`), JSON.stringify({ meta, results }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, `${args.out}.md`), markdown(meta, results));
  console.log(`wrote bench/results/${args.out}.{json,md}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
