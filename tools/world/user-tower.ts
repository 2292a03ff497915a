// The demo bundle's user tower as an ONNX graph: two-pass attention pooling
// over the user's action sequence.
//
//   s1 = w[action] - age_days / tau              action-type and recency prior
//   p1 = softmax(s1) . items                     first summary of the taste
//   s2 = s1 + beta <items_l, p1>                 attend to items that agree with it
//   user_emb   = normalise(softmax(s2) . items)
//   price_pref = softmax(s2) . log_price
//
// Inputs (batch B, sequence length L, both dynamic): items [B, L, d] float
// (the embeddings of the acted-on items; zeros where padded), log_price [B, L]
// float, action [B, L] int64 (ACTION_CODES; 0 = padding), age_days [B, L]
// float. Outputs: user_emb [B, d], price_pref [B, 1]. An all-padding
// sequence gives a zero embedding (a cold user).
import { GraphBuilder, attr } from '../../src/onnx/graph-builder';

/** Codes of the action input. */
export const ACTION_CODES = { padding: 0, impression: 1, click: 2, wishlist: 3, cart: 4, purchase: 5 } as const;

export interface UserTowerParams {
  /** Log-weight per action code (index = code). */
  actionLogWeights: number[];
  /** Recency time constant in days. */
  tauDays: number;
  /** Strength of the content attention pass. */
  beta: number;
}

export const DEFAULT_TOWER: UserTowerParams = {
  actionLogWeights: [-1e4, -6, 0, 0.7, 1.1, 1.4],
  tauDays: 21,
  beta: 4,
};

export function buildUserTower(dim: number, p: UserTowerParams = DEFAULT_TOWER): Uint8Array {
  const g = new GraphBuilder('user_tower');
  const items = g.input('items', ['batch', 'seq', dim]);
  const logPrice = g.input('log_price', ['batch', 'seq']);
  const action = g.input('action', ['batch', 'seq'], 'int64');
  const age = g.input('age_days', ['batch', 'seq']);

  const w = g.initializer('action_log_weight', Float32Array.from(p.actionLogWeights), [p.actionLogWeights.length]);
  const invTau = g.initializer('inv_tau', Float32Array.of(1 / p.tauDays), [1]);
  const beta = g.initializer('beta', Float32Array.of(p.beta), [1]);
  const eps = g.initializer('eps', Float32Array.of(1e-12), [1]);
  const ax1 = g.initializerInt64('axis1', [1]);
  const ax2 = g.initializerInt64('axis2', [2]);
  const flat = g.initializerInt64('flat_shape', [-1, dim]);
  const col = g.initializerInt64('col_shape', [-1, 1]);

  const prior = g.op('Sub', [g.op('Gather', [w, action]), g.op('Mul', [age, invTau])]);
  const pool = (scores: string) => {
    const a = g.op('Unsqueeze', [g.op('Softmax', [scores], { axis: attr.int(-1) }), ax1]); // [B, 1, L]
    return { a, pooled: g.op('MatMul', [a, items]) }; // [B, 1, d]
  };
  const first = pool(prior);
  const agree = g.op('Squeeze', [g.op('MatMul', [items, g.op('Transpose', [first.pooled], { perm: attr.ints([0, 2, 1]) })]), ax2]); // [B, L]
  const second = pool(g.op('Add', [prior, g.op('Mul', [agree, beta])]));
  const pooled = g.op('Reshape', [second.pooled, flat]); // [B, d]
  const norm = g.op('Sqrt', [g.op('Add', [g.op('ReduceSumSquare', [pooled], { axes: attr.ints([1]), keepdims: attr.int(1) }), eps])]);
  g.op('Div', [pooled, norm], {}, 'user_emb');
  const price = g.op('MatMul', [second.a, g.op('Unsqueeze', [logPrice, ax2])]); // [B, 1, 1]
  g.op('Reshape', [price, col], {}, 'price_pref');
  g.output('user_emb', ['batch', dim]);
  g.output('price_pref', ['batch', 1]);
  return g.serialize({
    docString: 'Two-pass attention pooling over the action sequence (ranking-engine demo world).',
    metadata: { dim: String(dim), tau_days: String(p.tauDays), beta: String(p.beta) },
  });
}
