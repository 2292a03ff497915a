// The learned ensemble (HarmonRank-style): one score per candidate from its
// objective probabilities p and the request's weights w, by a small MLP on
// [p | w | p * w] (ReLU hidden layers, a linear output). Trained offline
// with a ranking-aligned loss (train/ensemble.py); the weighted sum
// sum_o w_o p_o stays the default, this runs when a request asks for it and
// the bundle has one (models.ensemble, format "mlp-v1").
//
// Weights, as in the bundle's safetensors: layer.<j>.weight [out, in],
// layer.<j>.bias [out] for j = 0 .. hidden.length (the last has out = 1).

export interface EnsembleModel {
  /** Objectives H: the input is 3H wide. */
  objectives: number;
  hidden: number[];
  layers: { weight: Float32Array; bias: Float32Array; in: number; out: number }[];
}

/** Tensor names and shapes of an MLP with `hidden` widths over H objectives. */
export function ensembleTensorShapes(objectives: number, hidden: readonly number[]): Map<string, number[]> {
  const widths = [3 * objectives, ...hidden, 1];
  const out = new Map<string, number[]>();
  for (let j = 0; j + 1 < widths.length; j++) {
    out.set(`layer.${j}.weight`, [widths[j + 1], widths[j]]);
    out.set(`layer.${j}.bias`, [widths[j + 1]]);
  }
  return out;
}

/** Scores for n candidates: p is n x H (row-major), w the request's H weights. */
export function ensembleScores(m: EnsembleModel, p: Float32Array, w: Float32Array, n: number, out = new Float32Array(n)): Float32Array {
  const H = m.objectives;
  const widest = Math.max(3 * H, ...m.hidden);
  let a = new Float32Array(widest);
  let b = new Float32Array(widest);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < H; o++) {
      const po = p[i * H + o];
      a[o] = po;
      a[H + o] = w[o];
      a[2 * H + o] = po * w[o];
    }
    for (let j = 0; j < m.layers.length; j++) {
      const L = m.layers[j];
      const last = j === m.layers.length - 1;
      for (let r = 0; r < L.out; r++) {
        let v = L.bias[r];
        const row = r * L.in;
        for (let k = 0; k < L.in; k++) v += L.weight[row + k] * a[k];
        b[r] = last || v > 0 ? v : 0;
      }
      const t = a;
      a = b;
      b = t;
    }
    out[i] = a[0];
  }
  return out;
}
