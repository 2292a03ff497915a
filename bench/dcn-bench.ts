// DCN-v2 timings: native (with and without the user split), ONNX Runtime on
// the same weights (x0 and split inputs), and the plain TypeScript reference;
// plus the single-thread sgemm peak measured through the native model.
import * as ort from 'onnxruntime-node';
import { DcnModel, DcnShape } from '../src/native';
import { buildDcnOnnx, DcnOnnxInput } from '../src/onnx/dcn-graph';
import { dcnForwardReference } from '../src/scoring/dcn-ts';
import { InterleaveOptions, Rng, TimeOptions, maxAbsDiff, randomDcnWeights, timeAsync, timeInterleaved, timeSync } from './bench-util';
import type { Row } from './report';

export interface DcnCheck {
  shape: string;
  batch: number;
  /** Max |difference| of the probabilities between two implementations. */
  diffs: Record<string, number>;
}

const EMPTY = new Float32Array(0);

/** One big GEMM through the native model: peak single-thread sgemm. */
export function benchSgemmPeak(quick: boolean): Row {
  const D = 1024;
  const B = 1024;
  const shape: DcnShape = { inputDim: D, userDim: 0, crossLayers: 0, crossRank: 0, mlp: [D], heads: 1, structure: 'stacked' };
  const rng = new Rng(7);
  const model = new DcnModel(shape, randomDcnWeights(shape, rng));
  const x = rng.normals(B * D);
  const out = new Float32Array(B);
  const t = timeSync(() => model.forward(EMPTY, x, out), { budgetMs: quick ? 1000 : 3000, minReps: 20 });
  const flops = model.flops(B);
  return {
    group: 'blas',
    kernel: 'sgemm peak (OpenBLAS, 1 thread)',
    case: `[${B}x${D}]·[${D}x${D}]ᵀ via DcnModel (mlp [${D}], 1 head)`,
    timing: t,
    gflops: flops / t.medianUs / 1e3,
    note: `best call ${(flops / t.minUs / 1e3).toFixed(1)} GFLOP/s`,
  };
}

function ortSession(shape: DcnShape, w: Parameters<typeof buildDcnOnnx>[1], input: DcnOnnxInput) {
  return ort.InferenceSession.create(buildDcnOnnx(shape, w, { input }), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
}

export async function benchDcn(quick: boolean, log: (s: string) => void): Promise<{ rows: Row[]; checks: DcnCheck[] }> {
  const rows: Row[] = [];
  const checks: DcnCheck[] = [];
  const D = 200;
  const Du = 64;
  const Di = D - Du;
  const H = 4;
  const opt: InterleaveOptions = { rounds: quick ? 2 : 4, budgetMs: quick ? 600 : 2500 };
  const slow: TimeOptions = { budgetMs: quick ? 1000 : 3000, minReps: quick ? 5 : 15, warmupMs: 300 };
  for (const rank of [0, 32]) {
    const shape: DcnShape = { inputDim: D, userDim: Du, crossLayers: 3, crossRank: rank, mlp: [256, 128], heads: H, structure: 'stacked' };
    const name = `D=${D} (user ${Du}), 3 cross ${rank === 0 ? 'full-rank' : `rank ${rank}`}, MLP 256-128, ${H} heads, stacked`;
    const rng = new Rng(100 + rank);
    const w = randomDcnWeights(shape, rng);
    const split = new DcnModel(shape, w);
    const noSplit = new DcnModel({ ...shape, userDim: 0 }, w);
    const ortX0 = await ortSession(shape, w, 'x0');
    const ortSplit = await ortSession(shape, w, 'split');
    const kind = rank === 0 ? 'full-rank' : `low-rank r=${rank}`;
    for (const B of [200, 1000]) {
      const user = rng.normals(Du);
      const items = rng.normals(B * Di);
      const x0 = new Float32Array(B * D);
      for (let b = 0; b < B; b++) {
        x0.set(user, b * D);
        x0.set(items.subarray(b * Di, (b + 1) * Di), b * D + Du);
      }
      const out = new Float32Array(B * H);
      const feedX0 = { x0: new ort.Tensor('float32', x0, [B, D]) };
      const feedSplit = { user: new ort.Tensor('float32', user, [1, Du]), items: new ort.Tensor('float32', items, [B, Di]) };
      const flops = split.flops(B);
      const caseName = `${kind}, B=${B}`;

      if (B === 200) {
        const pSplit = Float32Array.from(split.forward(user, items));
        const pNoSplit = Float32Array.from(noSplit.forward(EMPTY, x0));
        const pOrt = (await ortX0.run(feedX0)).probs.data as Float32Array;
        const pOrtSplit = (await ortSplit.run(feedSplit)).probs.data as Float32Array;
        const pRef = dcnForwardReference(shape, w, user, items);
        const c: DcnCheck = {
          shape: name,
          batch: B,
          diffs: {
            'native(split) vs ORT(x0)': maxAbsDiff(pSplit, pOrt),
            'native(no split) vs ORT(x0)': maxAbsDiff(pNoSplit, pOrt),
            'native(split) vs native(no split)': maxAbsDiff(pSplit, pNoSplit),
            'ORT(split) vs ORT(x0)': maxAbsDiff(pOrtSplit, pOrt),
            'TS reference vs ORT(x0)': maxAbsDiff(pRef, pOrt),
            'TS reference vs native(split)': maxAbsDiff(pRef, pSplit),
          },
        };
        checks.push(c);
        log(`  check ${kind} B=${B}: ${Object.entries(c.diffs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
      }

      const add = (impl: string, t: Row['timing']) => {
        rows.push({ group: 'dcn', kernel: `DCN-v2 ${impl}`, case: caseName, timing: t, gflops: flops / t.medianUs / 1e3 });
        log(`  ${impl.padEnd(26)} ${caseName.padEnd(24)} median ${t.medianUs.toFixed(1)} µs  p99 ${t.p99Us.toFixed(1)} µs  ${(flops / t.medianUs / 1e3).toFixed(1)} GFLOP/s`);
      };
      const variants: Array<[string, () => unknown]> = [
        ['native, user split', () => split.forward(user, items, out)],
        ['native, no split', () => noSplit.forward(EMPTY, x0, out)],
        ['ORT, x0 [B,200]', () => ortX0.run(feedX0)],
        ['ORT, user+items split', () => ortSplit.run(feedSplit)],
      ];
      const timings = await timeInterleaved(variants.map((v) => v[1]), opt);
      variants.forEach(([impl], k) => add(impl, timings[k]));
      add('TypeScript reference', timeSync(() => dcnForwardReference(shape, w, user, items), slow));
    }
    await ortX0.release();
    await ortSplit.release();
  }
  return { rows, checks };
}

/** Cost of the event-loop turn (setImmediate) that every ORT session.run pays. */
export async function benchImmediate(): Promise<Row> {
  const t = await timeAsync(() => new Promise<void>((r) => setImmediate(r)), { budgetMs: 300 });
  return { group: 'dcn', kernel: 'await setImmediate', case: 'overhead inside each ORT session.run', timing: t };
}
