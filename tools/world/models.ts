// The demo bundle's scoring models, written down from the truth rather than
// trained: their weights encode the engagement function of truth.ts on the
// 'user-item-v1' features, so they are exact on true inputs and approximate
// on what the engine actually feeds them (noisy item embeddings, and the user
// tower's estimate of the user's taste and price level). That gap is the
// honest model error the evaluator measures.
//
// Ranker (DCN-v2, parallel, 3 full-rank cross layers, MLP [256, 128], 4 heads):
//   cross 0 turns item-embedding slot j into u_j v_j, the second log-price slot
//   into lp * mobile and the is_new slot into new * N[surface] (diagonal of
//   W x0 + b selects the partner feature, b = -1 cancels the residual);
//   cross 1-2 are identities; MLP units compute relu(lp - pi) + relu(pi - lp)
//   = |lp - pi| and pass is_new through; each head is a linear read-out.
// Strong pre-ranker: the same cross 0, MLP [16], one head = the click logit.
import type { DcnShape, DcnWeights } from '../../src/native/dcn';
import { FeatureLayout, slots } from '../../src/models/layout';
import { OBJECTIVES } from './schema';
import { SURFACES } from '../../src/models/schema';
import { TruthCoefficients } from './truth';

function linear(out: number, inp: number) {
  return { weight: new Float32Array(out * inp), bias: new Float32Array(out) };
}

function crossFromTruth(t: TruthCoefficients, l: FeatureLayout, D: number) {
  const s = slots(l);
  const c = { weight: new Float32Array(D * D), bias: new Float32Array(D) };
  const set = (row: number, col: number, v: number) => (c.weight[row * D + col] = v);
  for (let j = 0; j < l.dim; j++) {
    set(s.itemEmb + j, s.userEmb + j, 1);
    c.bias[s.itemEmb + j] = -1;
  }
  set(s.logPrice2, s.device(0), 1); // mobile
  c.bias[s.logPrice2] = -1;
  SURFACES.forEach((sf, k) => set(s.isNew, s.surface(k), t.newBySurface[sf]));
  c.bias[s.isNew] = -1;
  return c;
}

/** Head weights over x_L for the shared logit z (before the price-fit term). */
function zReadout(t: TruthCoefficients, l: FeatureLayout, row: Float32Array, scale: number): void {
  const s = slots(l);
  for (let j = 0; j < l.dim; j++) row[s.itemEmb + j] = scale * t.affinity;
  row[s.popularity] = scale * t.popularity;
  SURFACES.forEach((sf, k) => (row[s.surface(k)] = scale * t.surface[sf]));
  row[s.isNew] = scale; // holds new * N[surface] after cross 0
  row[s.logPrice2] = scale * t.mobilePrice; // holds lp * mobile after cross 0
}

export function rankerShape(l: FeatureLayout): DcnShape {
  return {
    inputDim: l.userDim + l.itemDim,
    userDim: l.userDim,
    crossLayers: 3,
    crossRank: 0,
    mlp: [256, 128],
    heads: OBJECTIVES.length,
    structure: 'parallel',
  };
}

export function rankerWeights(t: TruthCoefficients, l: FeatureLayout): DcnWeights {
  const shape = rankerShape(l);
  const D = shape.inputDim;
  const s = slots(l);
  const cross = [crossFromTruth(t, l, D), { weight: new Float32Array(D * D), bias: new Float32Array(D) }, { weight: new Float32Array(D * D), bias: new Float32Array(D) }];
  const m0 = linear(256, D);
  m0.weight[0 * D + s.logPrice] = 1;
  m0.weight[0 * D + s.pricePref] = -1;
  m0.weight[1 * D + s.logPrice] = -1;
  m0.weight[1 * D + s.pricePref] = 1;
  m0.weight[2 * D + s.isNew] = 1;
  const m1 = linear(128, 256);
  m1.weight[0 * 256 + 0] = 1;
  m1.weight[0 * 256 + 1] = 1; // |lp - pi|
  m1.weight[1 * 256 + 2] = 1; // is_new
  const hin = D + 128;
  const heads = linear(OBJECTIVES.length, hin);
  OBJECTIVES.forEach((o, h) => {
    const c = t.objectives[o];
    const row = heads.weight.subarray(h * hin, (h + 1) * hin);
    zReadout(t, l, row, c.scale);
    row[D + 0] = -(c.scale * t.priceFit + c.priceFit);
    row[D + 1] = c.isNew;
    heads.bias[h] = c.offset;
  });
  return { cross, mlp: [m0, m1], heads };
}

export function prerankerShape(l: FeatureLayout): DcnShape {
  return { inputDim: l.userDim + l.itemDim, userDim: l.userDim, crossLayers: 1, crossRank: 0, mlp: [16], heads: 1, structure: 'parallel' };
}

/** The strong pre-ranker: P(click) from the same crosses, a 16-unit MLP. */
export function prerankerWeights(t: TruthCoefficients, l: FeatureLayout): DcnWeights {
  const D = l.userDim + l.itemDim;
  const s = slots(l);
  const m0 = linear(16, D);
  m0.weight[0 * D + s.logPrice] = 1;
  m0.weight[0 * D + s.pricePref] = -1;
  m0.weight[1 * D + s.logPrice] = -1;
  m0.weight[1 * D + s.pricePref] = 1;
  const hin = D + 16;
  const heads = linear(1, hin);
  const c = t.objectives.click;
  zReadout(t, l, heads.weight, c.scale);
  heads.weight[D + 0] = -(c.scale * t.priceFit + c.priceFit);
  heads.weight[D + 1] = -(c.scale * t.priceFit + c.priceFit);
  heads.bias[0] = c.offset;
  return { cross: [crossFromTruth(t, l, D)], mlp: [m0], heads };
}

