// Random DCN-v2 weights of a given shape, for tests and benchmarks.
import type { DcnShape, DcnWeights } from '../../src/native/dcn';
import { headInputDim } from '../../src/native/dcn';
import { normalArray, Rng } from './random';

/** Random weights scaled by 1/sqrt(fan-in) so the heads stay away from saturation. */
export function randomDcnWeights(rng: Rng, s: DcnShape): DcnWeights {
  const D = s.inputDim;
  const mat = (out: number, inDim: number) => normalArray(rng, out * inDim, 0, 0.7 / Math.sqrt(inDim));
  const cross = [];
  for (let l = 0; l < s.crossLayers; l++) {
    cross.push(
      s.crossRank === 0
        ? { weight: mat(D, D), bias: normalArray(rng, D, 0, 0.1) }
        : { u: mat(D, s.crossRank), v: mat(s.crossRank, D), bias: normalArray(rng, D, 0, 0.1) },
    );
  }
  const mlp = [];
  let inDim = D;
  for (const h of s.mlp) {
    mlp.push({ weight: mat(h, inDim), bias: normalArray(rng, h, 0, 0.1) });
    inDim = h;
  }
  return { cross, mlp, heads: { weight: mat(s.heads, headInputDim(s)), bias: normalArray(rng, s.heads, 0, 0.1) } };
}
