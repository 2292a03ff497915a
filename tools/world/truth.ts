// The known engagement function of the demo world. For user u, item i and
// context (surface s, device v):
//
//   a  = <p_u, v_i>                        taste match (latent vectors)
//   pf = |lp_i - pi_u|                     distance from the preferred price
//   z  = A a - F pf + P pop_i + S[s] + N[s] new_i + M lp_i [v = mobile]
//   P(o) = sigmoid(scale_o z + offset_o - pf_o pf + new_o new_i)
//
// Bilinear taste, surface x newness and device x price are explicit feature
// crosses (what DCN-v2's cross layers model); |.| is what a ReLU MLP models.
import { Catalog } from './catalog';
import { Users } from './users';
import { OBJECTIVES, Objective } from './schema';
import { DEVICES, SURFACES, Surface } from '../../src/models/schema';

export interface ObjectiveTruth {
  scale: number;
  offset: number;
  priceFit: number;
  isNew: number;
}

export interface TruthCoefficients {
  affinity: number;
  priceFit: number;
  popularity: number;
  mobilePrice: number;
  surface: Record<Surface, number>;
  newBySurface: Record<Surface, number>;
  objectives: Record<Objective, ObjectiveTruth>;
}

export const DEFAULT_TRUTH: TruthCoefficients = {
  affinity: 5,
  priceFit: 0.8,
  popularity: 0.35,
  mobilePrice: -0.3,
  surface: { home: 0, browse: 0.3, search: 0.6, pdp: 0.2 },
  newBySurface: { home: 0.6, browse: 0.3, search: -0.2, pdp: 0 },
  objectives: {
    click: { scale: 1, offset: -3, priceFit: 0, isNew: 0 },
    wishlist: { scale: 1, offset: -5.4, priceFit: 0, isNew: 0.4 },
    cart: { scale: 1.15, offset: -6.4, priceFit: 0.4, isNew: 0 },
    purchase: { scale: 1.3, offset: -8.0, priceFit: 0.8, isNew: -0.2 },
  },
};

/** What the truth needs of the catalog and the users (see catalog.ts, users.ts). */
export type TruthItems = Pick<Catalog, 'dim' | 'latent' | 'logPrice' | 'isNew' | 'popularity'>;
export type TruthUsers = Pick<Users, 'pref' | 'pricePref'>;

export interface Context {
  surface: Surface;
  device: (typeof DEVICES)[number];
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * True probabilities of every objective for one user over candidate rows:
 * out[k * 4 + o] for objective OBJECTIVES[o]. Allocates out when not given.
 */
export function trueProbabilities(
  t: TruthCoefficients,
  cat: TruthItems,
  users: TruthUsers,
  user: number,
  rows: Int32Array,
  ctx: Context,
  out = new Float32Array(rows.length * OBJECTIVES.length),
): Float32Array {
  const d = cat.dim;
  const po = user * d;
  const pi = users.pricePref[user];
  const mobile = ctx.device === 'mobile' ? 1 : 0;
  const sBase = t.surface[ctx.surface];
  const sNew = t.newBySurface[ctx.surface];
  const obj = OBJECTIVES.map((o) => t.objectives[o]);
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k];
    const io = i * d;
    let a = 0;
    for (let j = 0; j < d; j++) a += users.pref[po + j] * cat.latent[io + j];
    const lp = cat.logPrice[i];
    const pf = Math.abs(lp - pi);
    const nw = cat.isNew[i];
    const z = t.affinity * a - t.priceFit * pf + t.popularity * cat.popularity[i] + sBase + sNew * nw + t.mobilePrice * lp * mobile;
    for (let o = 0; o < obj.length; o++) {
      const c = obj[o];
      out[k * obj.length + o] = sigmoid(c.scale * z + c.offset - c.priceFit * pf + c.isNew * nw);
    }
  }
  return out;
}

/** Weighted engagement sum_o w_o P(o) per candidate: the oracle's ranking score. */
export function trueUtility(probs: Float32Array, weights: Record<Objective, number>): Float32Array {
  const H = OBJECTIVES.length;
  const out = new Float32Array(probs.length / H);
  for (let k = 0; k < out.length; k++) {
    let s = 0;
    for (let o = 0; o < H; o++) s += weights[OBJECTIVES[o]] * probs[k * H + o];
    out[k] = s;
  }
  return out;
}

export function checkSurface(s: string): s is Surface {
  return (SURFACES as readonly string[]).includes(s);
}
