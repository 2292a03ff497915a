// The engine's options and their defaults (one definition), and the two
// facts about an IVF index that decide where a search runs.
import type { Metrics } from '../metrics/metrics';
import type { DcnPrecisionSetting } from '../native/dcn-precision';
import type { ScorerBackend } from '../scoring/protocol';
import { USER_STORE_DEFAULTS, UserStore } from '../state';
import type { RankDefaults } from './request';
import type { UserEmbeddingCacheOptions } from '../models/user-embedding-cache';

export interface EngineOptions {
  threads: number;
  maxQueuedRows: number;
  /**
   * Scoring batches of at most this many FLOPs run inline instead of in a
   * worker while no other Rank is in flight (or on one core); up to 4 MFLOP
   * always run inline (0: never inline).
   */
  inlineMaxFlops: number;
  /**
   * While no other Rank is in flight (or on one core), a larger batch runs
   * inline too, in up to this many slices of at most inlineMaxFlops with the
   * event loop served between them (1: such batches go to a worker).
   */
  inlineMaxSlices: number;
  /**
   * IVF searches expected to read at most this many bytes of codes run on the
   * calling thread instead of a libuv thread (0: never); other index kinds
   * always run off the event loop.
   */
  syncSearchMaxBytes: number;
  /** Extra catalog rows for UpsertItems. */
  catalogHeadroom: number;
  seenTtlMs: number;
  purchaseWindowMs: number;
  freshPool: number;
  freshKeep: number;
  /** Called when a refresh of the new items' shared click counts fails (a shared store only). */
  onSharedStatsError?: (err: Error) => void;
  /** Overrides of the bundle's index search parameters (evaluation, tuning). */
  search?: { nprobe?: number; efSearch?: number; refine?: number };
  /**
   * Which candidates the strong pre-ranker sees: 'uncertainty' (HAP: those
   * nearest the keep boundary, the default) or 'top' (the best by light score;
   * the baseline HAP is compared with).
   */
  hapRouting?: 'uncertainty' | 'top';
  /** Requests running the cascade at once (default 2 x cores); the rest wait (see admission.ts). */
  maxActiveRanks?: number;
  /**
   * Bound on the wait for a cascade slot of a request without a deadline; a
   * request with one may wait as long as it can still be served by it. A
   * request whose predicted wait (requests ahead of it x the recent interval
   * between slot releases, Little's law) is too long is refused on arrival,
   * one that can no longer start in time when a slot frees; both with
   * QueueWaitError, before any work. Once the oldest waiting request has
   * waited longer than this, the newest is served first and each new arrival
   * takes the place of the oldest. Default: no bound, arrival order.
   */
  maxQueueWaitMs?: number;
  /** How the DCN-v2 models run: native (default), or the 'ort' / 'ts' benchmark baselines. */
  scorer?: ScorerBackend;
  /** Arithmetic of the native DCN-v2 models; overrides the bundle's (default: the bundle's, else 'auto'). */
  rankerPrecision?: DcnPrecisionSetting;
  /**
   * The engine's clock: wall time, the bundle's referenceTime (demo worlds)
   * advancing from start, or a function (a simulation's clock, ms).
   */
  clock: 'wall' | 'bundle' | (() => number);
  /** events.jsonl to seed user state from. */
  seedEvents?: string;
  metrics?: Metrics;
  store?: UserStore;
  /** Reuse of the user tower's output (see UserEmbeddingCache); maxEntries 0 turns it off. */
  userEmbeddingCache?: Partial<UserEmbeddingCacheOptions>;
}

/** Defaults for everything but the clock, the seed events and the metrics. */
export const ENGINE_DEFAULTS: Omit<EngineOptions, 'clock' | 'seedEvents' | 'metrics' | 'store' | 'search' | 'hapRouting' | 'scorer' | 'rankerPrecision' | 'maxActiveRanks' | 'maxQueueWaitMs' | 'userEmbeddingCache'> = {
  threads: 2,
  maxQueuedRows: 200_000,
  // ~0.6 ms of sgemm on one core of a small VM: the demo world's ranker over
  // 250 rows (~36 MFLOP) runs inline when the engine is otherwise idle, a
  // 1M-item world's (~65 MFLOP) in a worker. A worker round trip costs ~1 ms
  // of CPU in all (bench/suite.js, w1 vs w1-pool), more than such a pass;
  // under concurrent load the workers spread scoring over the cores.
  inlineMaxFlops: 40_000_000,
  // A 1M-item world's ranker over 250 rows (~65 MFLOP) runs inline in two
  // slices when the engine is otherwise idle: the round trip it saves costs
  // more than the forward pass (bench/results/ab-w2-slices.md).
  inlineMaxSlices: 4,
  // 4 MB of inverted lists: well under a millisecond of scanning, less than
  // a hop to a libuv thread and back costs on small machines (the main
  // thread sleeps meanwhile and every later stage runs on colder caches).
  // The demo world (IVF1024,Flat, nprobe 128, 100k x 32) reads ~1.6 MB; the
  // 1M x 64 W2 world (IVF4096,SQfp16, nprobe 192) 6.1 MB in one pass and
  // 3.1 MB in the two-pass search's 8-bit first pass.
  syncSearchMaxBytes: 4_000_000,
  catalogHeadroom: 0,
  // The retention windows are the user store's (one definition).
  seenTtlMs: USER_STORE_DEFAULTS.seenTtlMs,
  purchaseWindowMs: USER_STORE_DEFAULTS.purchaseWindowMs,
  freshPool: 2000,
  freshKeep: 50,
};

/** Share of an IVF index's vectors one search scans (nprobe of nlist lists); null for other kinds. */
export function ivfScanFraction(factory: string, nprobe: number | undefined): number | null {
  const m = /^(?:[A-Za-z0-9]+,)*IVF(\d+)/.exec(factory);
  if (!m) return null;
  const nlist = Number(m[1]);
  return nlist > 0 ? Math.min(1, (nprobe ?? 1) / nlist) : null;
}

/**
 * Bytes of codes an IVF search reads per vector it scans: 4 d (Flat), 2 d
 * (SQfp16; d in the two-pass search, whose first pass reads an 8-bit copy),
 * d (SQ8), d / 2 (SQ4), m (PQm); 4 d when unknown.
 */
export function ivfCodeBytes(factory: string, dim: number, refine?: number): number {
  const code = factory.split(',').pop() ?? '';
  if (code === 'SQfp16') return refine ? dim : 2 * dim;
  if (code === 'SQ8') return dim;
  if (code === 'SQ4') return dim / 2;
  const pq = /^PQ(\d+)(?:x(\d+))?/.exec(code);
  if (pq) return (Number(pq[1]) * Number(pq[2] ?? 8)) / 8;
  return 4 * dim;
}

/** The built-in rank profile: what a request's unset options default to (a --profiles file starts from these). */
export const DEFAULT_RANK: RankDefaults = {
  retrievalK: 1000,
  prerankKeep: 200,
  heavyBudget: 0.2,
  diversity: 'dpp',
  diversityLambda: 0.7,
  brandRunLimit: 3,
  maxInterests: 3,
  calibration: 0.9,
  exploration: 'epsilon-greedy',
  epsilon: 0.1,
  ensemble: 'weighted',
  explorationStart: 5,
};
