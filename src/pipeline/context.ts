// Per-request state shared by the stages, and the stage contract.
import type { Metrics } from '../metrics/metrics';
import type { Degradation } from './planner';
import type { Bundle } from '../bundle/loader';
import type { FeatureLayout } from '../models/layout';
import type { LiveCatalog } from '../catalog/catalog';
import type { RankInput } from './request';
import type { RowMarks } from '../catalog/row-marks';
import type { ScoringPool } from '../scoring/pool';
import type { ItemStats, UserStore } from '../state';
import type { UserEmbeddingCache } from '../models/user-embedding-cache';
import type { UserInterests } from '../models/interests';
import type { UserTower } from '../models/user-tower';
import type { Candidates, Removed } from './types';
import type { UserSnapshot } from '../state/snapshot';

/** What the engine gives every stage. */
export interface EngineDeps {
  bundle: Bundle;
  catalog: LiveCatalog;
  store: UserStore;
  stats: ItemStats;
  pool: ScoringPool;
  tower: UserTower;
  /** The tower's output per user while its input is unchanged. */
  towerCache: UserEmbeddingCache;
  layout: FeatureLayout;
  /** Rows sorted by popularity bias, best first: the cold-start source. */
  popular: Int32Array;
  /** Fresh-source size: newest items considered, and how many are kept. */
  freshPool: number;
  freshKeep: number;
  /** Index search parameters (the bundle's unless overridden). */
  nprobe?: number;
  efSearch?: number;
  /** IVF SQfp16: two-pass search keeping refine * k candidates (SearchOptions.refine). */
  refine?: number;
  /** Strong pre-ranker routing: HAP's boundary rule or the light top-B. */
  hapRouting: 'uncertainty' | 'top';
  /** Scratch set over catalog rows (see RowMarks: synchronous use only). */
  marks: RowMarks;
  /** Searches scanning at most this many floats run synchronously (see EngineOptions). */
  syncSearchMaxBytes: number;
  /** Bytes of codes the index reads per scanned vector (see ivfCodeBytes). */
  ivfCodeBytes: number;
  /** Share of the index one search scans (IVF), null when unknown (never synchronous). */
  ivfScanFraction: number | null;
  /** True when scoring on the calling thread blocks nobody: one core, or no other Rank in flight. */
  preferInline(): boolean;
}

export interface RankContext {
  readonly input: RankInput;
  readonly deps: EngineDeps;
  /** Request time (ms since the epoch) on the engine's clock. */
  readonly now: number;
  user: UserSnapshot | null;
  userEmb: Float32Array | null;
  pricePref: number;
  /** The shared user part of the ranker's x0. */
  userFeatures: Float32Array | null;
  /** The user's interests when there are two or more (user_embedding); null: the one user vector serves. */
  interests: UserInterests | null;
  /** Debug only: the interest (0-based) whose search retrieved each row. */
  interestOf: Map<number, number> | null;
  removed: Removed[];
  /** Candidates dropped for a defect of their own (a score that is not finite), by stage and reason; counted in metrics. */
  dropped: { stage: string; reason: string; count: number }[];
  /** Page rules the candidates could not satisfy (e.g. 'brand_run'); counted in metrics. */
  unmet: string[];
  /** Whether the user embedding came from the cache (null until that stage ran). */
  towerCache: 'hit' | 'miss' | null;
  /** Candidates the strong pre-ranker scored in this request. */
  strongScored: number;
  degradations: string[];
  /** Debug only: each candidate row's score after each stage. */
  trail: Map<number, { stage: string; score: number }[]> | null;
  /** The running stage's note for the debug report. */
  note: string;
  /**
   * Milliseconds the running stage may wait on an outside service (the user
   * store) and still leave the rest of the cascade its predicted time before
   * the deadline (with the planner's margin); Infinity without a deadline.
   */
  waitBudgetMs(): number;
}

/** One step of the cascade: takes the candidates, returns the next candidates. */
export interface Stage {
  readonly id: string;
  /**
   * The stage records its own debug scores (or none, when it computes no
   * single score per candidate); otherwise the runner records each
   * candidate's score after the stage.
   */
  readonly ownTrail?: boolean;
  run(ctx: RankContext, c: Candidates): Promise<Candidates> | Candidates;
  /**
   * What stands in for the stage when a rank profile leaves it out or the
   * deadline planner drops it; a stage without it always runs.
   */
  skip?(ctx: RankContext, c: Candidates): Candidates;
  /** Steps that make the stage cheaper when the deadline is near (planner.ts). */
  readonly degrade?: readonly Degradation[];
  /** Metrics of its own, recorded after it ran (the runner records time and candidate counts for every stage). */
  observe?(metrics: Metrics, ctx: RankContext, candidatesIn: number): void;
}

/** A value a stage sets for the stages after it; reading it earlier is a bug in the stage list, reported as such. */
function produced<T>(v: T | null, what: string, by: string): T {
  if (v === null) throw new Error(`${what}: read before the ${by} stage set it (stage order)`);
  return v;
}

/** The user's state (set by user_state). */
export const userOf = (ctx: RankContext): UserSnapshot => produced(ctx.user, 'the user state', 'user_state');
/** The user embedding (set by user_embedding). */
export const userEmbOf = (ctx: RankContext): Float32Array => produced(ctx.userEmb, 'the user embedding', 'user_embedding');
/** The user part of the rankers' x0 (set by user_embedding). */
export const userFeaturesOf = (ctx: RankContext): Float32Array => produced(ctx.userFeatures, 'the user features', 'user_embedding');

export function emptyCandidates(): Candidates {
  return { rows: new Int32Array(0), scores: new Float32Array(0), provenance: new Uint8Array(0), strong: new Uint8Array(0) };
}

/**
 * Empty parallel arrays for n candidates, carved out of one ArrayBuffer:
 * rows, scores and (heads > 0) objectives, then the byte flags. A request
 * makes a dozen candidate sets; one buffer each instead of five or six means
 * fewer ArrayBuffer allocations (about 1.5 µs each for a few KB on this
 * project's test machine) and fewer for V8's scavenger to sweep. The views
 * must not be transferred to another thread.
 */
export function allocCandidates(n: number, heads = 0, exploration = false): Candidates {
  const words = 2 * n + n * heads;
  const buf = new ArrayBuffer(4 * words + n * (exploration ? 3 : 2));
  const bytes = 4 * words;
  const out: Candidates = {
    rows: new Int32Array(buf, 0, n),
    scores: new Float32Array(buf, 4 * n, n),
    provenance: new Uint8Array(buf, bytes, n),
    strong: new Uint8Array(buf, bytes + n, n),
  };
  if (heads > 0) out.objectives = new Float32Array(buf, 8 * n, n * heads);
  if (exploration) out.exploration = new Uint8Array(buf, bytes + 2 * n, n);
  return out;
}

/** The rows at the given positions. */
export function rowsAt(rows: Int32Array, positions: Int32Array): Int32Array {
  const out = new Int32Array(positions.length);
  for (let i = 0; i < positions.length; i++) out[i] = rows[positions[i]];
  return out;
}

/** Candidates at the given positions of `c` (all parallel arrays). */
export function select(c: Candidates, positions: Int32Array, heads = 0): Candidates {
  const n = positions.length;
  const withObjectives = c.objectives !== undefined && heads > 0;
  const out = allocCandidates(n, withObjectives ? heads : 0, c.exploration !== undefined);
  const { rows, scores, provenance, strong } = out;
  for (let i = 0; i < n; i++) {
    const p = positions[i];
    rows[i] = c.rows[p];
    scores[i] = c.scores[p];
    provenance[i] = c.provenance[p];
    strong[i] = c.strong[p];
  }
  if (withObjectives) {
    const o = out.objectives!;
    const src = c.objectives!;
    for (let i = 0; i < n; i++) {
      const from = positions[i] * heads;
      for (let h = 0; h < heads; h++) o[i * heads + h] = src[from + h];
    }
  }
  if (c.exploration) {
    const e = out.exploration!;
    for (let i = 0; i < n; i++) e[i] = c.exploration[positions[i]];
  }
  return out;
}

/** Records each candidate's score in the debug trail. */
export function recordTrail(ctx: RankContext, stage: string, c: Candidates): void {
  if (!ctx.trail) return;
  for (let i = 0; i < c.rows.length; i++) {
    let t = ctx.trail.get(c.rows[i]);
    if (!t) ctx.trail.set(c.rows[i], (t = []));
    t.push({ stage, score: c.scores[i] });
  }
}

/**
 * Drops the candidates with a value that is not finite: `values` holds
 * `width` values per candidate (scores: 1, objective probabilities: heads).
 * One bad item (a poisoned embedding, a model that overflows on it) must not
 * fail the request: it is removed, listed in debug `removed` with the reason
 * 'non_finite_score', and counted (ctx.dropped). Returns `c` itself when every
 * value is finite, else the kept candidates (all parallel arrays).
 */
export function dropNonFinite(ctx: RankContext, stage: string, c: Candidates, values: Float32Array, width = 1): Candidates {
  const n = c.rows.length;
  let bad = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad++;
  if (bad === 0) return c;
  const keep = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    let ok = true;
    for (let j = i * width; j < (i + 1) * width; j++) ok &&= Number.isFinite(values[j]);
    if (ok) keep[k++] = i;
    else if (ctx.trail) ctx.removed.push({ row: c.rows[i], stage, reason: 'non_finite_score' });
  }
  ctx.dropped.push({ stage, reason: 'non_finite_score', count: n - k });
  return select(c, keep.subarray(0, k), c.objectives ? ctx.input.weights.length : 0);
}
