// A user's several interests, derived from the action history itself (for a
// bundle whose user tower gives one vector): the recent items' embeddings are
// clustered, each action weighted by its type and its age; clusters holding
// too small a share of the weight are folded into the nearest one. The
// largest interest is served by the tower's own vector over the whole
// history (its attention centres on the largest interest, and it is the
// vector the rankers see); each other interest by the tower's output over
// its own actions (UserTower.embedGroups). Their shares of the weight split
// retrieval's K. The page's target category mix (calibration) is the same
// weighted histogram over the actions, stray categories left out.
import { ACTION } from './schema';
import type { UserSnapshot } from '../state/snapshot';

const DAY_MS = 86_400_000;

export interface InterestOptions {
  /** Most interests a user gets (1: one vector, as the tower gives). */
  maxInterests: number;
  /** A cluster with less than this share of the weight joins the nearest other. */
  minShare: number;
  /** Clusters whose centres are at least this similar (cosine) are one interest. */
  mergeCosine: number;
  /** Recency time constant of the action weights, in days. */
  tauDays: number;
}

/** Most interests a request may ask for. */
export const MAX_INTERESTS = 8;

export const INTEREST_DEFAULTS: InterestOptions = { maxInterests: 3, minShare: 0.05, mergeCosine: 0.5, tauDays: 21 };

/** Weight of an action by type: impressions say nothing of interest; a purchase says most. */
const ACTION_WEIGHT: Record<number, number> = { [ACTION.impression]: 0, [ACTION.click]: 1, [ACTION.wishlist]: 2, [ACTION.cart]: 3, [ACTION.purchase]: 4 };

export interface ActionClusters {
  /** Number of interests (0 for a user without weighted actions). */
  count: number;
  /** Per action of the snapshot: its interest, or -1 (not weighted, or past the tower's window). */
  assign: Int8Array;
  /** Each interest's share of the weight, largest first; sums to 1. */
  shares: Float32Array;
  /** Target category mix of the page: categories, and their shares (sum 1), largest first. */
  categories: Int32Array;
  categoryShares: Float32Array;
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += a[ao + j] * b[bo + j];
  return s;
}

/** The weight of each of the last `window` actions (0 for older ones and impressions). */
export function actionWeights(user: UserSnapshot, now: number, window: number, tauDays: number): Float64Array {
  const n = user.actionRows.length;
  const w = new Float64Array(n);
  for (let i = Math.max(0, n - window); i < n; i++) {
    const age = Math.max(0, (now - user.actionTimes[i]) / DAY_MS);
    w[i] = (ACTION_WEIGHT[user.actionCodes[i]] ?? 0) * Math.exp(-age / tauDays);
  }
  return w;
}

/** Whether at most one category holds minShare of the weight or more (then the history is one interest). */
function inOneCategory(w: Float64Array, rows: Int32Array, category: Int32Array, minShare: number): boolean {
  const byCategory = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    if (w[i] <= 0) continue;
    const g = category[rows[i]];
    byCategory.set(g, (byCategory.get(g) ?? 0) + w[i]);
    total += w[i];
  }
  let big = 0;
  for (const v of byCategory.values()) if (v >= minShare * total) big++;
  return big <= 1;
}

/** Unit-norm weighted centre of each cluster (k x d); a cluster without members keeps a zero centre. */
function centres(emb: Float32Array, d: number, rows: Int32Array, w: Float64Array, assign: Int8Array, k: number): Float32Array {
  const c = new Float32Array(k * d);
  for (let i = 0; i < rows.length; i++) {
    const a = assign[i];
    if (a < 0) continue;
    const o = rows[i] * d;
    for (let j = 0; j < d; j++) c[a * d + j] += w[i] * emb[o + j];
  }
  for (let a = 0; a < k; a++) {
    const norm = Math.sqrt(dot(c, a * d, c, a * d, d));
    if (norm > 0) for (let j = 0; j < d; j++) c[a * d + j] /= norm;
  }
  return c;
}

/** Assigns every weighted action to its most similar live centre; returns whether anything moved. */
function reassign(emb: Float32Array, d: number, rows: Int32Array, w: Float64Array, assign: Int8Array, c: Float32Array, live: Uint8Array): boolean {
  let moved = false;
  for (let i = 0; i < rows.length; i++) {
    if (w[i] <= 0) continue;
    let best = -1;
    let bestSim = -Infinity;
    for (let a = 0; a < live.length; a++) {
      if (live[a] === 0) continue;
      const s = dot(emb, rows[i] * d, c, a * d, d);
      if (s > bestSim) [best, bestSim] = [a, s];
    }
    if (assign[i] !== best) moved = true;
    assign[i] = best;
  }
  return moved;
}

/** Weight held by each cluster. */
function clusterWeights(w: Float64Array, assign: Int8Array, k: number): Float64Array {
  const m = new Float64Array(k);
  for (let i = 0; i < assign.length; i++) if (assign[i] >= 0) m[assign[i]] += w[i];
  return m;
}

/**
 * Seeds: the heaviest action, then (up to k) the heaviest action whose item
 * is less similar than mergeCosine to every seed so far.
 */
function seeds(emb: Float32Array, d: number, rows: Int32Array, w: Float64Array, k: number, mergeCosine: number): number[] {
  const order = Array.from(rows.keys()).filter((i) => w[i] > 0).sort((a, b) => w[b] - w[a] || b - a);
  const out: number[] = [];
  for (const i of order) {
    if (out.length >= k) break;
    if (out.every((s) => dot(emb, rows[i] * d, emb, rows[s] * d, d) < mergeCosine)) out.push(i);
  }
  return out;
}

/**
 * The user's interests from their last `window` actions: one when a single
 * catalog category holds minShare of the weight or more; else spherical
 * k-means over the acted-on items' embeddings (weighted by action type and
 * recency), seeded by the heaviest dissimilar actions, clusters under
 * minShare folded into the others and clusters whose centres are closer than
 * mergeCosine merged. Deterministic.
 */
export function clusterActions(user: UserSnapshot, emb: Float32Array, d: number, category: Int32Array, now: number, window: number, opts: InterestOptions): ActionClusters {
  const rows = user.actionRows;
  const w = actionWeights(user, now, window, opts.tauDays);
  const assign = new Int8Array(rows.length).fill(-1);
  if (opts.maxInterests <= 1 || inOneCategory(w, rows, category, opts.minShare)) {
    // One interest: no clustering (most users; k-means costs ~80 µs).
    for (let i = 0; i < rows.length; i++) if (w[i] > 0) assign[i] = 0;
    return summarise(w, assign, 1, rows, category, opts.minShare);
  }
  const s = seeds(emb, d, rows, w, Math.max(1, Math.min(opts.maxInterests, 127)), opts.mergeCosine);
  const k = s.length;
  if (k === 0) return { count: 0, assign, shares: new Float32Array(0), categories: new Int32Array(0), categoryShares: new Float32Array(0) };
  const live = new Uint8Array(k).fill(1);
  let c: Float32Array = new Float32Array(k * d);
  s.forEach((i, a) => c.set(emb.subarray(rows[i] * d, rows[i] * d + d), a * d));
  for (let iter = 0; iter < 8; iter++) {
    const moved = reassign(emb, d, rows, w, assign, c, live);
    c = centres(emb, d, rows, w, assign, k);
    if (!moved && iter > 0) break;
  }
  // Fold the lightest cluster under minShare into the others, one at a time;
  // then merge centres that are alike.
  for (;;) {
    const m = clusterWeights(w, assign, k);
    const total = m.reduce((x, y) => x + y, 0);
    const nLive = live.reduce((x, y) => x + y, 0);
    let drop = -1;
    for (let a = 0; a < k && nLive > 1; a++) if (live[a] === 1 && m[a] < opts.minShare * total && (drop < 0 || m[a] < m[drop])) drop = a;
    for (let a = 0; a < k && drop < 0; a++) {
      for (let b = a + 1; b < k && drop < 0; b++) if (live[a] === 1 && live[b] === 1 && dot(c, a * d, c, b * d, d) >= opts.mergeCosine) drop = m[a] < m[b] ? a : b;
    }
    if (drop < 0) break;
    live[drop] = 0;
    reassign(emb, d, rows, w, assign, c, live);
    c = centres(emb, d, rows, w, assign, k);
  }
  return summarise(w, assign, k, rows, category, opts.minShare);
}

/** Renumbers the clusters largest first and computes the shares and the category mix (categories of at least minShare). */
function summarise(w: Float64Array, assign: Int8Array, k: number, rows: Int32Array, category: Int32Array, minShare: number): ActionClusters {
  const m = clusterWeights(w, assign, k);
  const order = Array.from(m.keys()).filter((a) => m[a] > 0).sort((a, b) => m[b] - m[a] || a - b);
  const renum = new Int8Array(k).fill(-1);
  order.forEach((a, i) => (renum[a] = i));
  const total = order.reduce((x, a) => x + m[a], 0);
  const byCategory = new Map<number, number>();
  for (let i = 0; i < assign.length; i++) {
    if (assign[i] < 0) continue;
    assign[i] = renum[assign[i]];
    const g = category[rows[i]];
    byCategory.set(g, (byCategory.get(g) ?? 0) + w[i]);
  }
  // Categories under minShare are strays (an exploration click), not part of the mix.
  const cats = [...byCategory].filter(([, v]) => v >= minShare * total).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const catTotal = cats.reduce((x, [, v]) => x + v, 0);
  return {
    count: order.length,
    assign,
    shares: Float32Array.from(order, (a) => m[a] / total),
    categories: Int32Array.from(cats, ([g]) => g),
    categoryShares: Float32Array.from(cats, ([, v]) => v / catTotal),
  };
}

/** The smallest part of K an interest searches for. */
export const MIN_K_SHARE = 0.1;

/**
 * Retrieval's K split across interests by their shares, each at least
 * MIN_K_SHARE before the parts are scaled back to sum to K.
 */
export function splitK(K: number, shares: Float32Array): Int32Array {
  const n = shares.length;
  const w = Float64Array.from(shares, (s) => Math.max(MIN_K_SHARE, s));
  const total = w.reduce((a, b) => a + b, 0);
  const out = new Int32Array(n);
  let given = 0;
  for (let a = 0; a < n; a++) {
    out[a] = a === n - 1 ? K - given : Math.round((K * w[a]) / total);
    given += out[a];
  }
  return out;
}

/** What the cascade uses of a user's interests (two or more; one interest is the tower's own vector). */
export interface UserInterests {
  count: number;
  /** count x dim unit vectors, the largest interest first (the user's own vector). */
  vectors: Float32Array;
  shares: Float32Array;
  /** The page's target category mix (see ActionClusters). */
  categories: Int32Array;
  categoryShares: Float32Array;
}

/** The action indices of each interest (the largest first), for UserTower.embedGroups. */
export function groupsOf(c: ActionClusters): Int32Array[] {
  const groups: number[][] = Array.from({ length: c.count }, () => []);
  for (let i = 0; i < c.assign.length; i++) if (c.assign[i] >= 0) groups[c.assign[i]].push(i);
  return groups.map((g) => Int32Array.from(g));
}

/**
 * The IVF nprobe of each interest's search: an interest asking for k of the
 * K results one vector would get visits k / K of the lists (at least an
 * eighth of them), so the batch scans about what one search for K does,
 * at the recall bench/interest-search.js measures.
 */
export function interestNprobes(nprobe: number | undefined, ks: Int32Array, K: number): Int32Array | undefined {
  if (nprobe === undefined) return undefined;
  return Int32Array.from(ks, (k) => Math.max(1, Math.ceil(nprobe / 8), Math.ceil((nprobe * k) / K)));
}
