import { strict as assert } from 'node:assert';

import { DcnModel, DcnShape, NativeInputError } from '../../src/native';
import { mulberry32, normalArray } from '../oracles/random';
import { randomDcnWeights } from '../oracles/dcn-weights';

describe('native DCN-v2 forwardSegments (cross-request batching)', () => {
  const shapes: DcnShape[] = [
    { inputDim: 24, userDim: 10, crossLayers: 2, crossRank: 0, mlp: [16, 8], heads: 3, structure: 'parallel' },
    { inputDim: 24, userDim: 10, crossLayers: 2, crossRank: 4, mlp: [16], heads: 2, structure: 'stacked' },
    { inputDim: 12, userDim: 0, crossLayers: 1, crossRank: 0, mlp: [], heads: 1, structure: 'stacked' },
  ];
  for (const shape of shapes) {
    it(`equals one forward() per segment (${shape.structure}, rank ${shape.crossRank}, userDim ${shape.userDim})`, () => {
      const rng = mulberry32(11);
      const model = new DcnModel(shape, randomDcnWeights(rng, shape));
      const di = shape.inputDim - shape.userDim;
      const sizes = [3, 0, 7, 1];
      const offsets = Int32Array.from([0, ...sizes.map((_, i) => sizes.slice(0, i + 1).reduce((a, b) => a + b, 0))]);
      const users = normalArray(rng, sizes.length * shape.userDim);
      const items = normalArray(rng, offsets[sizes.length] * di);
      const batched = model.forwardSegments(users, offsets, items);
      sizes.forEach((n, g) => {
        const one = model.forward(users.subarray(g * shape.userDim, (g + 1) * shape.userDim), items.subarray(offsets[g] * di, offsets[g + 1] * di));
        assert.equal(one.length, n * shape.heads);
        for (let i = 0; i < one.length; i++) {
          assert.ok(Math.abs(one[i] - batched[offsets[g] * shape.heads + i]) < 1e-5, `segment ${g} value ${i}`);
        }
      });
    });
  }

  it('rejects inconsistent offsets and users, naming them', () => {
    const shape = shapes[0];
    const model = new DcnModel(shape, randomDcnWeights(mulberry32(3), shape));
    const di = shape.inputDim - shape.userDim;
    const items = new Float32Array(4 * di);
    const users = new Float32Array(2 * shape.userDim);
    assert.throws(() => model.forwardSegments(users, Int32Array.from([0, 2, 3]), items), /offsets must start at 0 and end/);
    assert.throws(() => model.forwardSegments(users, Int32Array.from([0, 3, 2]), new Float32Array(2 * di)), /non-decreasing/);
    assert.throws(() => model.forwardSegments(new Float32Array(3), Int32Array.from([0, 2, 4]), items), /users has 3 values/);
    assert.throws(() => model.forwardSegments(users, new Int32Array(0), items), NativeInputError);
    // Non-finite values are found natively, first offending index named.
    assert.throws(() => model.forwardSegments(users, Int32Array.from([0, 2, 4]), Float32Array.from(items).fill(NaN, 5, 7)), /items\[5\] is not finite \(NaN\)/);
    assert.throws(() => model.forwardSegments(Float32Array.from(users).fill(-Infinity, 3, 4), Int32Array.from([0, 2, 4]), items), /users\[3\] is not finite \(-Infinity\)/);
  });
});
