// DCN-v2 through oneDNN (native/dnnl_matmul.cc) in fp32, bf16 and int8,
// against the plain TypeScript reference on the random models and inputs of
// dcn.test.ts, at batch sizes 1, 7 and 200 and on the user-split path
// (forwardSegments). Tolerances on the output probabilities p of one model
// (all its batches and segments, ~630 values), int8 calibrated on 4000 rows
// drawn like the inputs:
//   fp32 (oneDNN)  every |p - p_ref| <= 1e-6 + 1e-4 |p_ref|
//   bf16           every |p - p_ref| <= 1.5e-2, median <= 1e-3
//   int8           median |p - p_ref| <= 5e-3, 99th percentile <= 4e-2, every one <= 0.3
// Seen over 60 such models x 1000 rows: bf16 max 7e-3; int8 median <= 4e-3,
// p99 <= 2.7e-2, max 0.21, the largest errors on the few rows of three-layer
// cross stacks whose outputs (degree-4 polynomials of normal inputs) reach
// far past the calibration sample's.
import * as assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

import { native } from '../../src/native/binding';
import { DcnCalibration, DcnModel, DcnShape, DcnWeights } from '../../src/native/dcn';
import { autoPrecision, fp32Backend, resolvePrecision } from '../../src/native/dcn-precision';
import type { DcnPrecision } from '../../src/native/dcn-precision';
import { NativeInputError, onednnCpu } from '../../src/native';
import { dcnForwardReference } from '../../src/scoring/dcn-ts';
import { randomDcnWeights } from '../oracles/dcn-weights';
import { mulberry32, normalArray } from '../oracles/random';
import { assertClose } from './helpers';

const TOLERANCE: Record<'bf16' | 'int8', { median: number; p99: number; max: number }> = {
  bf16: { median: 1e-3, p99: 1.5e-2, max: 1.5e-2 },
  int8: { median: 5e-3, p99: 4e-2, max: 0.3 },
};

/** Checks fp32 elementwise; bf16 and int8 by the quantiles of |got - ref| over everything `add`ed. */
function checker(precision: DcnPrecision) {
  const diffs: number[] = [];
  return {
    add(got: Float32Array, ref: Float32Array, what: string) {
      if (precision === 'fp32') return assertClose(got, ref, 1e-4, 1e-6, what);
      assert.equal(got.length, ref.length, what);
      got.forEach((g, i) => diffs.push(Math.abs(g - ref[i])));
    },
    done() {
      if (precision === 'fp32') return;
      const t = TOLERANCE[precision];
      const d = diffs.sort((a, b) => a - b);
      const q = (f: number) => d[Math.floor(f * (d.length - 1))];
      const stats = `median ${q(0.5).toExponential(2)}, p99 ${q(0.99).toExponential(2)}, max ${q(1).toExponential(2)} over ${d.length}`;
      assert.ok(q(0.5) <= t.median && q(0.99) <= t.p99 && q(1) <= t.max, `|p - p_ref|: ${stats}`);
    },
  };
}

function shapeOf(over: Partial<DcnShape>): DcnShape {
  return { inputDim: 13, userDim: 5, crossLayers: 2, crossRank: 0, mlp: [16, 8], heads: 3, structure: 'stacked', ...over };
}

/** `users` pseudo-users with `rows` item rows each, drawn like the test inputs. */
function calibration(rng: () => number, shape: DcnShape, users = 8, rows = 500): DcnCalibration {
  const di = shape.inputDim - shape.userDim;
  return {
    users: normalArray(rng, users * shape.userDim),
    offsets: Int32Array.from({ length: users + 1 }, (_, g) => g * rows),
    items: normalArray(rng, users * rows * di),
  };
}

function model(shape: DcnShape, w: DcnWeights, precision: DcnPrecision, rng: () => number): DcnModel {
  return new DcnModel(shape, w, { precision, backend: 'onednn', calibration: precision === 'int8' ? calibration(rng, shape) : undefined });
}

describe('native DCN-v2 through oneDNN (fp32, bf16, int8)', () => {
  let seed = 3000;
  for (const precision of ['fp32', 'bf16', 'int8'] as DcnPrecision[]) {
    describe(`${precision} matches the reference`, () => {
      for (const structure of ['stacked', 'parallel'] as const) {
        for (const [crossLayers, crossRank] of [[0, 0], [1, 0], [3, 0], [1, 4], [3, 4]]) {
          for (const userDim of [0, 5]) {
            for (const mlp of [[], [16, 8]]) {
              const shape = shapeOf({ structure, crossLayers, crossRank, userDim, mlp });
              const s = seed++;
              it(`${structure}, ${crossLayers} cross of rank ${crossRank || 'full'}, userDim ${userDim}, mlp [${mlp}]: batches 1, 7, 200 and segments`, () => {
                const rng = mulberry32(s);
                const w = randomDcnWeights(rng, shape);
                const m = model(shape, w, precision, rng);
                assert.match(m.kernels, new RegExp(`^${precision} \\(oneDNN `));
                const di = shape.inputDim - userDim;
                const check = checker(precision);
                for (const batch of [200, 1, 7]) {
                  const user = normalArray(rng, userDim);
                  const items = normalArray(rng, batch * di);
                  const got = m.forward(user, items);
                  assert.equal(got.length, batch * shape.heads);
                  check.add(got, dcnForwardReference(shape, w, user, items), `batch ${batch}`);
                }
                // The user split over several requests: segments of 3, 0, 7, 1 and 200 rows.
                const sizes = [3, 0, 7, 1, 200];
                const offsets = Int32Array.from([0, ...sizes.map((_, i) => sizes.slice(0, i + 1).reduce((a, b) => a + b, 0))]);
                const users = normalArray(rng, sizes.length * userDim);
                const items = normalArray(rng, offsets[sizes.length] * di);
                const got = m.forwardSegments(users, offsets, items);
                sizes.forEach((_, g) => {
                  const ref = dcnForwardReference(shape, w, users.subarray(g * userDim, (g + 1) * userDim), items.subarray(offsets[g] * di, offsets[g + 1] * di));
                  check.add(got.subarray(offsets[g] * shape.heads, offsets[g + 1] * shape.heads), ref, `segment ${g}`);
                });
                check.done();
              });
            }
          }
        }
      }
    });
  }

  it('fp32 through oneDNN at the world rankers\' widths (D 77 of which 41 user, MLP 256-128, 4 heads)', () => {
    const shape: DcnShape = { inputDim: 77, userDim: 41, crossLayers: 3, crossRank: 0, mlp: [256, 128], heads: 4, structure: 'parallel' };
    const rng = mulberry32(77);
    const w = randomDcnWeights(rng, shape);
    const m = model(shape, w, 'fp32', rng);
    for (const batch of [200, 1, 7]) {
      const user = normalArray(rng, 41);
      const items = normalArray(rng, batch * 36);
      assertClose(m.forward(user, items), dcnForwardReference(shape, w, user, items), 1e-4, 1e-6, `batch ${batch}`);
    }
  });

  it('the exact path stays the default: fp32 on the packed kernels (or cblas)', () => {
    const shape = shapeOf({});
    const m = new DcnModel(shape, randomDcnWeights(mulberry32(1), shape));
    assert.equal(m.precision, 'fp32');
    if (process.env.RANK_DCN_GEMM === 'onednn') assert.match(m.kernels, /^fp32 \(oneDNN /);
    else assert.match(m.kernels, /^fp32 \((packed|blas)\)$/);
  });

  it('int8 saturates inputs beyond the calibrated range instead of overflowing', () => {
    const shape = shapeOf({ structure: 'parallel', crossLayers: 1 });
    const rng = mulberry32(5);
    const w = randomDcnWeights(rng, shape);
    const m = model(shape, w, 'int8', rng);
    const items = normalArray(rng, 2 * 8);
    items.fill(1e30, 0, 8);
    const p = m.forward(normalArray(rng, 5), items);
    assert.ok(p.every((x) => Number.isFinite(x) && x >= 0 && x <= 1), `probabilities ${Array.from(p)}`);
  });

  it('scores the same from several threads at once (one stream per thread)', async () => {
    const shape = shapeOf({ structure: 'parallel', crossLayers: 3, mlp: [64, 32] });
    const rng = mulberry32(21);
    const w = randomDcnWeights(rng, shape);
    const calib = calibration(rng, shape);
    const user = normalArray(rng, 5);
    const items = normalArray(rng, 300 * 8);
    const expected = new DcnModel(shape, w, { precision: 'int8', calibration: calib }).forward(user, items);
    const code = `
      const { parentPort, workerData: d } = require('node:worker_threads');
      const { DcnModel } = require(d.dcn);
      const m = new DcnModel(d.shape, d.w, { precision: 'int8', calibration: d.calib });
      let out;
      for (let i = 0; i < 200; i++) out = m.forward(d.user, d.items);
      parentPort.postMessage(out);`;
    const dcn = require.resolve('../../src/native/dcn');
    const runs = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<Float32Array>((resolve, reject) => {
            const worker = new Worker(code, { eval: true, workerData: { dcn, shape, w, calib, user, items } });
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      ),
    );
    for (const r of runs) assert.deepEqual(Array.from(r), Array.from(expected));
  });

  describe('options are checked, naming the field', () => {
    const shape = shapeOf({});
    const w = randomDcnWeights(mulberry32(2), shape);
    it('in TypeScript', () => {
      assert.throws(() => new DcnModel(shape, w, { precision: 'fp16' as DcnPrecision }), (e: Error) => e instanceof NativeInputError && /options\.precision/.test(e.message));
      assert.throws(() => new DcnModel(shape, w, { precision: 'int8' }), /options\.calibration is required for int8/);
      assert.throws(() => new DcnModel(shape, w, { precision: 'bf16', backend: 'gemm' }), /options\.backend 'gemm' runs fp32 only/);
    });
    it('natively', () => {
      const tensors = [...(w.cross.flatMap((c) => [c.weight!, c.bias])), ...w.mlp.flatMap((m) => [m.weight, m.bias]), w.heads.weight, w.heads.bias];
      const cal = calibration(mulberry32(4), shape, 2, 10);
      assert.throws(() => new native.DcnModel(shape, tensors, { precision: 'int4' as DcnPrecision }), /options\.precision must be 'fp32', 'bf16' or 'int8'/);
      assert.throws(() => new native.DcnModel(shape, tensors, { precision: 'int8' }), /options\.calibration \{ users, offsets, items \} is required for int8/);
      assert.throws(() => new native.DcnModel(shape, tensors, { precision: 'int8', calibration: { ...cal, items: new Float64Array(16) as unknown as Float32Array } }), /options\.calibration\.items must be a Float32Array/);
      assert.throws(() => new native.DcnModel(shape, tensors, { precision: 'int8', calibration: { ...cal, items: cal.items.subarray(8) } }), /options\.calibration\.offsets must start at 0 and end at the number of item rows/);
      assert.throws(() => new native.DcnModel(shape, tensors, { precision: 'int8', calibration: { ...cal, users: new Float32Array(3) } }), /options\.calibration\.users length/);
      const nan = Float32Array.from(cal.items);
      nan[6] = NaN;
      assert.throws(() => new native.DcnModel(shape, tensors, { precision: 'int8', calibration: { ...cal, items: nan } }), /options\.calibration\.items\[6\] is not finite \(NaN\)/);
    });
  });

  describe("'auto' precision", () => {
    const cpu = (over: Partial<typeof onednnCpu>) => ({ isa: 'x', vnni: false, bf16: false, amx: false, ...over });
    it('the pre-ranker is int8 with VNNI or AMX, else fp32', () => {
      assert.equal(autoPrecision(cpu({ vnni: true }), 'preranker'), 'int8');
      assert.equal(autoPrecision(cpu({ amx: true, bf16: true, vnni: true }), 'preranker'), 'int8');
      assert.equal(autoPrecision(cpu({ bf16: true }), 'preranker'), 'fp32');
      assert.equal(autoPrecision(cpu({}), 'preranker'), 'fp32');
    });
    it('the ranker is bf16 with AMX, else fp32 (its int8 fails the quality bar; AVX-512 BF16 alone is slower than fp32)', () => {
      assert.equal(autoPrecision(cpu({ vnni: true }), 'ranker'), 'fp32');
      assert.equal(autoPrecision(cpu({ amx: true, bf16: true, vnni: true }), 'ranker'), 'bf16');
      assert.equal(autoPrecision(cpu({ bf16: true, vnni: true }), 'ranker'), 'fp32');
      assert.equal(autoPrecision(cpu({}), 'ranker'), 'fp32');
    });
    it('fp32 runs on oneDNN where oneDNN has AVX-512 kernels, else on the packed AVX2 kernels', () => {
      assert.equal(fp32Backend(cpu({ isa: 'avx512_core_bf16' })), 'onednn');
      assert.equal(fp32Backend(cpu({ isa: 'avx2' })), 'gemm');
    });
    it('an explicit setting wins; unset means auto', () => {
      assert.equal(resolvePrecision('bf16', cpu({ vnni: true }), 'preranker'), 'bf16');
      assert.equal(resolvePrecision(undefined, cpu({ vnni: true }), 'preranker'), 'int8');
      assert.equal(resolvePrecision('auto', cpu({ vnni: true }), 'ranker'), 'fp32');
    });
    it('reads the CPU through oneDNN', () => {
      assert.equal(typeof onednnCpu.isa, 'string');
      assert.ok(onednnCpu.isa.length > 0);
      if (onednnCpu.amx) assert.ok(onednnCpu.vnni, 'AMX CPUs have VNNI too');
    });
  });
});
