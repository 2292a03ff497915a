// DCN-v2 forward pass: native model vs the plain TypeScript reference, the
// user-side split, and input checks of both the wrapper and the raw addon.
import * as assert from 'node:assert/strict';
import { native } from '../../src/native/binding';
import { DcnModel, DcnShape, DcnWeights, flattenWeights } from '../../src/native/dcn';
import { dcnGemm, simdLevel } from '../../src/native';
import { dcnForwardReference } from '../../src/scoring/dcn-ts';
import { randomDcnWeights as randomWeights } from '../oracles/dcn-weights';
import { mulberry32, normalArray } from '../oracles/random';
import { assertClose } from './helpers';

function baseShape(over: Partial<DcnShape> = {}): DcnShape {
  return { inputDim: 13, userDim: 5, crossLayers: 2, crossRank: 0, mlp: [16, 8], heads: 3, structure: 'stacked', ...over };
}

/** Logit of each probability, to state expectations on the pre-sigmoid scale. */
function logits(p: Float32Array): number[] {
  return Array.from(p, (x) => Math.log(x / (1 - x)));
}

describe('native DCN-v2', () => {
  describe('matches the TypeScript reference', () => {
    let seed = 100;
    for (const structure of ['stacked', 'parallel'] as const) {
      for (const [crossLayers, crossRank] of [[0, 0], [1, 0], [3, 0], [1, 4], [3, 4]]) {
        for (const userDim of [0, 5]) {
          for (const mlp of [[], [16, 8]]) {
            const shape = baseShape({ structure, crossLayers, crossRank, userDim, mlp });
            const s = seed++;
            const name = `${structure}, ${crossLayers} cross layers of rank ${crossRank || 'full'}, userDim ${userDim}, mlp [${mlp}]`;
            it(name, () => {
              const rng = mulberry32(s);
              const weights = randomWeights(rng, shape);
              const model = new DcnModel(shape, weights);
              const di = shape.inputDim - shape.userDim;
              // Large batch first, then smaller ones: stale scratch must not leak between calls.
              for (const batch of [64, 1, 7, 0, 33]) {
                const user = normalArray(rng, userDim);
                const items = normalArray(rng, batch * di);
                const got = model.forward(user, items);
                assert.equal(got.length, batch * shape.heads);
                assertClose(got, dcnForwardReference(shape, weights, user, items), 1e-4, 1e-6, `batch ${batch}`);
              }
            });
          }
        }
      }
    }
  });

  // Layers run on weights packed in 16-column panels (native/gemm.cc) where
  // the CPU has AVX2: widths that fill panels exactly, leave a partial last
  // panel, or are narrower than one (heads); the user and item columns of
  // x0's maps packed apart; batches that fill 6-row tiles or leave 1-5 rows.
  describe('packed layers', () => {
    it('are used where the CPU has AVX2 (unless RANK_DCN_GEMM=blas)', () => {
      if (process.env.RANK_DCN_GEMM === 'blas' || simdLevel !== 'avx2') assert.equal(dcnGemm, 'blas');
      else assert.equal(dcnGemm, 'packed');
    });
    let seed = 900;
    for (const structure of ['stacked', 'parallel'] as const) {
      for (const [inputDim, userDim, crossRank, mlp, heads] of [
        [45, 9, 0, [40, 17], 4],
        [45, 9, 5, [32, 16], 20],
        [32, 0, 0, [48], 16],
        [77, 41, 0, [33], 3],
      ] as [number, number, number, number[], number][]) {
        const shape = baseShape({ structure, inputDim, userDim, crossLayers: 2, crossRank, mlp, heads });
        const s = seed++;
        it(`${structure}, D ${inputDim} (user ${userDim}), cross rank ${crossRank || 'full'}, mlp [${mlp}], ${heads} heads`, () => {
          const rng = mulberry32(s);
          const weights = randomWeights(rng, shape);
          const model = new DcnModel(shape, weights);
          const di = inputDim - userDim;
          for (const batch of [200, 1, 5, 6, 7, 13, 0, 64]) {
            const user = normalArray(rng, userDim);
            const items = normalArray(rng, batch * di);
            const got = model.forward(user, items);
            assert.equal(got.length, batch * heads);
            assertClose(got, dcnForwardReference(shape, weights, user, items), 1e-4, 1e-6, `batch ${batch}`);
          }
        });
      }
    }
  });

  it('scores each item from its own features (hand-computed: no cross layers, no MLP)', () => {
    // heads input is x0 = [item]: logit_b = 1 * x_b0 + 10 * x_b1 + 100 * x_b2.
    const shape: DcnShape = { inputDim: 3, userDim: 0, crossLayers: 0, crossRank: 0, mlp: [], heads: 1, structure: 'stacked' };
    const weights: DcnWeights = { cross: [], mlp: [], heads: { weight: new Float32Array([1, 10, 100]), bias: new Float32Array([0]) } };
    const model = new DcnModel(shape, weights);
    const items = new Float32Array([0.001, 0, 0, 0, 0.001, 0, 0, 0, 0.001]);
    assertClose(logits(model.forward(new Float32Array(0), items)), [0.001, 0.01, 0.1], 1e-3, 1e-6, 'logits');
  });

  it('hand-computed cross layer: x1 = x0 * (W x0 + b) + x0', () => {
    // D = 2, W = I, b = [1, 0]: x1 = [x0*(x0+1) + x0, y*y + y]; heads = sum.
    const shape: DcnShape = { inputDim: 2, userDim: 1, crossLayers: 1, crossRank: 0, mlp: [], heads: 1, structure: 'stacked' };
    const weights: DcnWeights = {
      cross: [{ weight: new Float32Array([1, 0, 0, 1]), bias: new Float32Array([1, 0]) }],
      mlp: [],
      heads: { weight: new Float32Array([1, 1]), bias: new Float32Array([0]) },
    };
    const model = new DcnModel(shape, weights);
    const u = 0.5;
    const items = new Float32Array([0.25, -0.5]);
    const expected = [0.25, -0.5].map((y) => u * (u + 1) + u + (y * y + y));
    assertClose(logits(model.forward(new Float32Array([u]), items)), expected, 1e-4, 1e-5, 'logits');
  });

  it('the user split gives the same scores as a model fed the full rows', () => {
    const rng = mulberry32(7);
    const split = baseShape({ structure: 'parallel', crossRank: 4, userDim: 5 });
    const full = { ...split, userDim: 0 };
    const weights = randomWeights(rng, split);
    const user = normalArray(rng, 5);
    const items = normalArray(rng, 10 * 8);
    const rows = new Float32Array(10 * 13);
    for (let b = 0; b < 10; b++) {
      rows.set(user, b * 13);
      rows.set(items.subarray(b * 8, b * 8 + 8), b * 13 + 5);
    }
    const a = new DcnModel(split, weights).forward(user, items);
    const b = new DcnModel(full, weights).forward(new Float32Array(0), rows);
    assertClose(a, b, 1e-5, 1e-6, 'split vs full');
  });

  it('writes into a caller-supplied out array and returns it', () => {
    const rng = mulberry32(8);
    const shape = baseShape();
    const weights = randomWeights(rng, shape);
    const model = new DcnModel(shape, weights);
    const user = normalArray(rng, 5);
    const items = normalArray(rng, 4 * 8);
    const out = new Float32Array(4 * 3 + 2).fill(-7);
    const ret = model.forward(user, items, out);
    assert.equal(ret, out);
    assertClose(out.subarray(0, 12), dcnForwardReference(shape, weights, user, items), 1e-4, 1e-6, 'out');
    assert.deepEqual(Array.from(out.subarray(12)), [-7, -7], 'values past batch * heads are left alone');
  });

  it('gives identical results on repeated calls', () => {
    const rng = mulberry32(9);
    const shape = baseShape({ crossRank: 3, crossLayers: 3 });
    const model = new DcnModel(shape, randomWeights(rng, shape));
    const user = normalArray(rng, 5);
    const items = normalArray(rng, 50 * 8);
    const a = model.forward(user, items);
    model.forward(user, normalArray(rng, 200 * 8));
    assert.deepEqual(model.forward(user, items), a);
  });

  it('flops counts 2 * in * out per linear map per row', () => {
    const rng = mulberry32(10);
    const full = baseShape({ structure: 'parallel' });
    const low = baseShape({ crossRank: 4 });
    const perRowFull = 2 * (2 * 13 * 13 + 13 * 16 + 16 * 8 + (13 + 8) * 3);
    const perRowLow = 2 * (2 * (13 * 4 + 4 * 13) + 13 * 16 + 16 * 8 + 8 * 3);
    assert.equal(new DcnModel(full, randomWeights(rng, full)).flops(10), 10 * perRowFull);
    assert.equal(new DcnModel(low, randomWeights(rng, low)).flops(3), 3 * perRowLow);
    assert.equal(new DcnModel(low, randomWeights(rng, low)).flops(0), 0);
  });

  describe('wrapper input checks', () => {
    const rng = mulberry32(11);
    const shape = baseShape({ crossRank: 0 });
    const weights = randomWeights(rng, shape);
    const lowShape = baseShape({ crossRank: 4 });
    const lowWeights = randomWeights(rng, lowShape);
    const model = new DcnModel(shape, weights);
    const user = normalArray(rng, 5);
    const items = normalArray(rng, 2 * 8);

    const badShapes: [Partial<DcnShape> | Record<string, unknown>, RegExp][] = [
      [{ inputDim: 0 }, /shape\.inputDim/],
      [{ inputDim: 12.5 }, /shape\.inputDim/],
      [{ userDim: 13 }, /shape\.userDim/],
      [{ userDim: -1 }, /shape\.userDim/],
      [{ crossLayers: -1 }, /shape\.crossLayers/],
      [{ crossRank: 14 }, /shape\.crossRank/],
      [{ heads: 0 }, /shape\.heads/],
      [{ mlp: [16, 0] }, /shape\.mlp\[1\]/],
      [{ mlp: [4.5] }, /shape\.mlp\[0\]/],
      [{ structure: 'tower' }, /shape\.structure/],
      [{ inputDim: '13' }, /shape\.inputDim/],
    ];
    for (const [over, re] of badShapes) {
      it(`rejects shape ${JSON.stringify(over)}`, () => {
        assert.throws(() => new DcnModel({ ...shape, ...over } as DcnShape, weights), re);
      });
    }

    it('rejects weights that do not fit the shape', () => {
      const w = (f: (x: DcnWeights) => void): DcnWeights => {
        const copy: DcnWeights = {
          cross: weights.cross.map((c) => ({ ...c })),
          mlp: weights.mlp.map((m) => ({ ...m })),
          heads: { ...weights.heads },
        };
        f(copy);
        return copy;
      };
      assert.throws(() => new DcnModel(shape, w((x) => x.cross.pop())), /weights\.cross has 1 layers/);
      assert.throws(() => new DcnModel(shape, w((x) => x.mlp.pop())), /weights\.mlp has 1 layers/);
      assert.throws(() => new DcnModel(shape, w((x) => (x.cross[1].weight = new Float32Array(12)))), /cross\[1\]\.weight must have length 169/);
      assert.throws(() => new DcnModel(shape, w((x) => (x.cross[0].bias = new Float64Array(13) as unknown as Float32Array))), /cross\[0\]\.bias must be a Float32Array/);
      assert.throws(() => new DcnModel(shape, w((x) => (x.mlp[0].weight = Float32Array.from(x.mlp[0].weight).fill(NaN, 5, 6)))), /mlp\[0\]\.weight\[5\] is not finite/);
      assert.throws(() => new DcnModel(shape, w((x) => (x.heads.weight = new Float32Array(3 * 13)))), /heads\.weight must have length 24/);
      assert.throws(() => new DcnModel(shape, w((x) => (x.heads.bias = Float32Array.of(0, Infinity, 0)))), /heads\.bias\[1\] is not finite/);
      // Low rank needs u and v, not a full weight.
      assert.throws(() => new DcnModel(lowShape, weights), /cross\[0\]\.u is missing/);
      assert.throws(() => new DcnModel(shape, lowWeights), /cross\[0\]\.weight is missing/);
    });

    it('rejects bad forward() arguments', () => {
      assert.throws(() => model.forward(new Float32Array(4), items), /user must have length 5/);
      assert.throws(() => model.forward([0, 0, 0, 0, 0] as unknown as Float32Array, items), /user must be a Float32Array/);
      assert.throws(() => model.forward(user, new Float32Array(9)), /items length 9 is not a multiple of inputDim - userDim = 8/);
      assert.throws(() => model.forward(user, new Float64Array(8) as unknown as Float32Array), /items must be a Float32Array/);
      assert.throws(() => model.forward(user, Float32Array.from(items).fill(NaN, 3, 4)), /items\[3\] is not finite/);
      assert.throws(() => model.forward(Float32Array.from(user).fill(-Infinity, 0, 1), items), /user\[0\] is not finite/);
      assert.throws(() => model.forward(user, items, new Float32Array(5)), /out must hold at least 6 values/);
      assert.throws(() => model.forward(user, items, new Int32Array(6) as unknown as Float32Array), /out must be a Float32Array/);
    });

    it('rejects a bad flops() batch', () => {
      assert.throws(() => model.flops(-1), /batch/);
      assert.throws(() => model.flops(1.5), /batch/);
    });
  });

  describe('raw addon input checks (throw, never crash)', () => {
    const rng = mulberry32(12);
    const shape = baseShape();
    const tensors = flattenWeights(shape, randomWeights(rng, shape));

    it('rejects a wrong tensor count', () => {
      assert.throws(() => new native.DcnModel(shape, [...tensors, new Float32Array(3)]), /got 11 tensors, expected 10/);
      assert.throws(() => new native.DcnModel(shape, tensors.slice(0, 9)), /missing tensor heads\.bias/);
      assert.throws(() => new native.DcnModel(shape, []), /missing tensor cross\.0\.weight/);
    });

    it('rejects tensors of the wrong size, type or with NaN', () => {
      const t = tensors.slice();
      t[2] = new Float32Array(5);
      assert.throws(() => new native.DcnModel(shape, t), /cross\.1\.weight has 5 values, expected 169/);
      t[2] = new Float64Array(169) as unknown as Float32Array;
      assert.throws(() => new native.DcnModel(shape, t), /cross\.1\.weight must be a Float32Array/);
      t[2] = new Float32Array(169).fill(NaN);
      assert.throws(() => new native.DcnModel(shape, t), /cross\.1\.weight\[0\] is not finite \(NaN\)/);
      const low = { ...shape, crossRank: 4 };
      assert.throws(() => new native.DcnModel(low, tensors), /cross\.0\.U\.weight has 169 values, expected 52/);
    });

    it('rejects bad shapes', () => {
      assert.throws(() => new native.DcnModel(null as unknown as typeof shape, tensors), /expects an object/);
      assert.throws(() => new native.DcnModel({ ...shape, inputDim: 0 }, tensors), /shape\.inputDim/);
      assert.throws(() => new native.DcnModel({ ...shape, heads: 1.5 }, tensors), /shape\.heads/);
      assert.throws(() => new native.DcnModel({ ...shape, mlp: [16, -8] }, tensors), /shape\.mlp/);
      assert.throws(() => new native.DcnModel({ ...shape, structure: 'x' as 'stacked' }, tensors), /shape\.structure/);
      assert.throws(() => new native.DcnModel({ ...shape, crossRank: 99 }, tensors), /shape\.crossRank/);
    });

    it('rejects bad forward() sizes', () => {
      const m = new native.DcnModel(shape, tensors);
      assert.throws(() => m.forward(new Float32Array(4), new Float32Array(8)), /user length must equal shape\.userDim/);
      assert.throws(() => m.forward(new Float32Array(5), new Float32Array(9)), /items length must be a multiple/);
      assert.throws(() => m.forward(new Float32Array(5), new Float32Array(16), new Float32Array(5)), /out is too small/);
      assert.throws(() => m.forward(new Float32Array(5), [] as unknown as Float32Array), /items must be a Float32Array/);
      assert.throws(() => m.forward(undefined as unknown as Float32Array, new Float32Array(8)), /user must be a Float32Array/);
      assert.throws(() => m.flops(-3), /batch/);
      // userDim == inputDim leaves no item features: nothing to score.
      const noItems = new native.DcnModel({ ...shape, userDim: 13 }, tensors);
      assert.throws(() => noItems.forward(new Float32Array(13), new Float32Array(0)), /inputDim - userDim must be positive/);
    });
  });
});
