// Native-core micro-benchmark: sgemm peak, DCN-v2 (native / ONNX Runtime /
// TypeScript), MMR, DPP, HAP, scoreRows and FAISS. Writes
// bench/results/native-kernels.{json,md}.
//
//   node dist/bench/native-kernels.js [--quick] [--skip-faiss] [--faiss-n=N] [--faiss-noise=X]
import { execSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { simdLevel } from '../src/native';
import { benchDcn, benchImmediate, benchSgemmPeak } from './dcn-bench';
import { benchFaiss } from './faiss-bench';
import { FaissRow, Meta, Row, markdown } from './report';
import { benchSmallKernels } from './small-kernels-bench';

interface Args {
  quick: boolean;
  skipFaiss: boolean;
  faissN: number;
  faissNoise: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, skipFaiss: false, faissN: 0, faissNoise: 1 };
  for (const s of argv) {
    if (s === '--quick') a.quick = true;
    else if (s === '--skip-faiss') a.skipFaiss = true;
    else if (s.startsWith('--faiss-n=')) {
      a.faissN = Number(s.slice('--faiss-n='.length));
      if (!Number.isInteger(a.faissN) || a.faissN < 2000) throw new Error(`--faiss-n must be an integer >= 2000, got ${s}`);
    } else if (s.startsWith('--faiss-noise=')) {
      a.faissNoise = Number(s.slice('--faiss-noise='.length));
      if (!(a.faissNoise >= 0)) throw new Error(`--faiss-noise must be a number >= 0, got ${s}`);
    } else throw new Error(`unknown argument ${s} (use --quick, --skip-faiss, --faiss-n=N, --faiss-noise=X)`);
  }
  if (a.faissN === 0) a.faissN = a.quick ? 100_000 : 1_000_000;
  return a;
}

function sh(cmd: string, root: string): string {
  try {
    return execSync(cmd, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + __dirname);
    dir = up;
  }
  return dir;
}

function meta(root: string, argv: string[]): Meta {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const ortPkg = JSON.parse(fs.readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string };
  return {
    date: new Date().toISOString(),
    commit: sh('git rev-parse --short HEAD', root) || 'unknown',
    dirty: sh('git status --porcelain --untracked-files=no', root).length > 0,
    cpu,
    cores: os.cpus().length,
    node: process.version,
    simdLevel,
    onnxruntime: ortPkg.version,
    args: argv,
    loadavg: { start: os.loadavg()[0], end: NaN },
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  const root = packageRoot();
  const m = meta(root, argv);
  const log = (s: string) => console.log(s);
  const t0 = Date.now();
  log(`native-kernels: ${m.cpu}, ${m.cores} cores, node ${m.node}, simd ${m.simdLevel}, commit ${m.commit}${args.quick ? ' (quick)' : ''}`);

  const rows: Row[] = [];
  const notes: string[] = [];
  log('sgemm peak');
  const peak = benchSgemmPeak(args.quick);
  rows.push(peak);
  log(`  ${peak.gflops?.toFixed(1)} GFLOP/s (median), ${peak.note}`);

  log('DCN-v2');
  const dcn = await benchDcn(args.quick, log);
  rows.push(...dcn.rows, await benchImmediate());
  for (const c of dcn.checks) {
    notes.push(
      `Output check, ${c.shape}, B=${c.batch} (max |Δprob|): ` +
        Object.entries(c.diffs)
          .map(([k, v]) => `${k} ${v.toExponential(2)}${v > 1e-4 ? ' (MISMATCH)' : ''}`)
          .join('; ') +
        '.',
    );
  }
  notes.push(
    'DCN-v2 GFLOP/s use the nominal FLOPs of DcnModel.flops(B) (2 per multiply-add over all layers, without the user-split saving) for every implementation. ' +
      'ORT: CPU EP, intra/inter-op threads 1, graphOptimizationLevel all, one session per model, input tensors built once, timing session.run ' +
      '(which includes one setImmediate turn, see the "await setImmediate" row). Native and TypeScript calls are synchronous.',
  );

  log('MMR / DPP / HAP / scoreRows');
  rows.push(...benchSmallKernels(args.quick, log));

  let faiss: FaissRow[] = [];
  if (!args.skipFaiss) {
    log(`FAISS (${args.faissN} x 64)`);
    const f = await benchFaiss(
      {
        n: args.faissN,
        nlist: args.quick ? 1024 : 4096,
        timedQueries: args.quick ? 100 : 300,
        hnswBudgetS: 600,
        hnswFirstChunk: 200_000,
        threads: Math.min(2, os.cpus().length),
        noise: args.faissNoise,
      },
      log,
    );
    faiss = f.rows;
    notes.push(...f.notes);
  }

  const totalS = (Date.now() - t0) / 1000;
  notes.push(`Total benchmark run time ${totalS.toFixed(0)} s.`);
  m.loadavg.end = os.loadavg()[0];
  const dir = path.join(root, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const json = { meta: m, rows, faiss, dcnChecks: dcn.checks, notes };
  fs.writeFileSync(path.join(dir, 'native-kernels.json'), JSON.stringify(json, null, 2) + '\n');
  const md = markdown(m, rows, faiss, notes);
  fs.writeFileSync(path.join(dir, 'native-kernels.md'), md);
  log('\n' + md);
  log(`wrote ${path.relative(root, dir)}/native-kernels.{json,md} in ${totalS.toFixed(0)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
