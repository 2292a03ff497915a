// The engine: one loaded bundle with its live catalog, user state, scoring
// pool and user tower, and the cascade that ranks. The orchestrator runs the
// stages in order, times each one, records metrics and, in debug mode, each
// candidate's score per stage and why candidates were removed.
import * as os from 'node:os';

import type { Bundle } from '../bundle/loader';
import { featureLayout } from '../models/layout';
import { topK } from '../native';
import type { Metrics } from '../metrics/metrics';
import { LiveCatalog, NewItem } from './catalog';
import type { EngineDeps, RankContext, Stage } from './context';
import { emptyCandidates, recordTrail } from './context';
import type { RankInput, RankOutput, StageReport } from './request';
import type { DcnPrecisionSetting } from '../native/dcn-precision';
import { ScoringPool } from './scoring/pool';
import type { ScorerBackend } from './scoring/protocol';
import { defaultCascade } from './stages';
import { EngineEvent, InMemoryUserStore, ItemStats, seedFromEvents, USER_STORE_DEFAULTS, UserStore } from './state';
import { ACTION_NAMES } from '../models/schema';
import { DeadlineError, QueueWaitError, SlotQueue } from './admission';
import { RowMarks } from './row-marks';

export { DeadlineError, QueueWaitError };
import { UserTower } from './user-tower';
import { USER_EMBEDDING_CACHE_DEFAULTS, UserEmbeddingCache, UserEmbeddingCacheOptions } from './user-embedding-cache';

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
  /** The engine's clock: wall time, or the bundle's referenceTime (demo worlds) advancing from start. */
  clock: 'wall' | 'bundle';
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

const NOTHING_SKIPPED: ReadonlySet<string> = new Set();
/** The planner's last step: the page is composed from the pre-rank order. */
const RANK_SKIPPED: ReadonlySet<string> = new Set(['rank', 'ensemble']);

export class Engine {
  readonly catalog: LiveCatalog;
  readonly store: UserStore;
  readonly stats: ItemStats;
  readonly pool: ScoringPool;
  private readonly deps: EngineDeps;
  private readonly stages: Stage[];
  private readonly clockOffset: number;
  /** Recent duration of each stage in ms (exponentially weighted), for deadline planning. */
  private readonly ewma = new Map<string, number>();
  /** Rank calls in progress (a replaced engine closes when this reaches 0). */
  inflight = 0;
  /** Rank calls that stopped early because the caller went away. */
  cancelled = 0;
  /** Cores this process may run on (its CPU affinity). */
  private readonly cores = os.availableParallelism();
  /** Cascade slots: at most maxActive requests run it at once, the others wait or are refused. */
  private readonly slots: SlotQueue;

  private constructor(
    readonly bundle: Bundle,
    private readonly opts: EngineOptions,
    tower: UserTower,
    catalog: LiveCatalog,
    pool: ScoringPool,
  ) {
    this.slots = new SlotQueue({ maxActive: opts.maxActiveRanks ?? 2 * this.cores, maxQueueWaitMs: opts.maxQueueWaitMs ?? Infinity });
    this.catalog = catalog;
    this.store = opts.store ?? new InMemoryUserStore({ seenTtlMs: opts.seenTtlMs, purchaseWindowMs: opts.purchaseWindowMs });
    this.stats = new ItemStats(this.catalog.capacity);
    this.pool = pool;
    const ref = Date.parse(bundle.manifest.referenceTime ?? bundle.manifest.createdAt);
    this.clockOffset = opts.clock === 'bundle' && Number.isFinite(ref) ? ref - Date.now() : 0;
    const popular = topK(this.catalog.cols.bias.subarray(0, this.catalog.size), this.catalog.size);
    this.deps = {
      bundle,
      catalog: this.catalog,
      store: this.store,
      stats: this.stats,
      pool: this.pool,
      tower,
      towerCache: new UserEmbeddingCache({ ...USER_EMBEDDING_CACHE_DEFAULTS, ...opts.userEmbeddingCache }, tower.maxActions),
      layout: featureLayout(bundle.manifest.embeddingDim),
      popular,
      freshPool: opts.freshPool,
      freshKeep: opts.freshKeep,
      nprobe: opts.search?.nprobe ?? bundle.manifest.index.nprobe,
      efSearch: opts.search?.efSearch ?? bundle.manifest.index.efSearch,
      refine: opts.search?.refine ?? bundle.manifest.index.refine,
      hapRouting: opts.hapRouting ?? 'uncertainty',
      marks: new RowMarks(this.catalog.capacity),
      syncSearchMaxBytes: opts.syncSearchMaxBytes,
      ivfScanFraction: ivfScanFraction(bundle.manifest.index.factory, opts.search?.nprobe ?? bundle.manifest.index.nprobe),
      ivfCodeBytes: ivfCodeBytes(bundle.manifest.index.factory, bundle.manifest.embeddingDim, opts.search?.refine ?? bundle.manifest.index.refine),
      preferInline: () => this.cores === 1 || this.slots.activeCount <= 1,
    };
    this.stages = defaultCascade({ seenTtlMs: opts.seenTtlMs, purchaseWindowMs: opts.purchaseWindowMs });
    const m = opts.metrics;
    if (m) {
      this.pool.onBatch = (model, rows, _segments, wait) => m.observeBatch(model, rows, wait);
      m.setBundle(bundle.manifest.name, bundle.manifest.version);
      m.setModelPrecision(this.pool.precision);
    }
  }

  static async create(bundle: Bundle, opts: EngineOptions): Promise<Engine> {
    const tower = await UserTower.create(bundle.userTower, bundle.manifest.embeddingDim);
    const catalog = new LiveCatalog(bundle, bundle.index, opts.catalogHeadroom);
    const pool = await ScoringPool.create(bundle, catalog, {
      threads: opts.threads,
      maxQueuedRows: opts.maxQueuedRows,
      inlineMaxFlops: opts.inlineMaxFlops,
      inlineMaxSlices: opts.inlineMaxSlices,
      backend: opts.scorer,
      precision: opts.rankerPrecision,
    });
    const engine = new Engine(bundle, opts, tower, catalog, pool);
    if (opts.seedEvents) await seedFromEvents(engine.store, engine.stats, opts.seedEvents, engine.catalog.rowOf, engine.now());
    await engine.warm();
    return engine;
  }

  /** Requests running the cascade at once, at most. */
  get maxActive(): number {
    return this.slots.maxActive;
  }

  /** Requests refused a cascade slot (on arrival or while waiting). */
  get shedWaiting(): number {
    return this.slots.shed;
  }

  /** The part of shedWaiting refused on arrival, from the predicted wait. */
  get shedOnArrival(): number {
    return this.slots.shedOnArrival;
  }

  /** Requests waiting for a cascade slot now. */
  get waitingRanks(): number {
    return this.slots.waitingCount;
  }

  /** The wait a request arriving now is predicted to have, ms (0 when a slot is free). */
  expectedWaitMs(): number {
    return this.slots.expectedWaitMs();
  }

  /**
   * Why a request with this deadline (ms since the epoch; Infinity: none)
   * would be refused on arrival now (counted as shed), or null. Lets a
   * caller refuse before decoding and validating the request.
   */
  admissionRefusal(deadline: number): QueueWaitError | DeadlineError | null {
    return this.slots.screen(deadline);
  }

  /** The cascade's stages in order, and which of them a rank profile may leave out. */
  get stageIds(): { id: string; optional: boolean }[] {
    return this.stages.map((s) => ({ id: s.id, optional: s.skip !== undefined }));
  }

  /** Requests running the cascade now (the rest of `inflight` waits for a slot). */
  get activeRanks(): number {
    return this.slots.activeCount;
  }

  /** Milliseconds since the epoch on the engine's clock. */
  now(): number {
    return Date.now() + this.clockOffset;
  }

  get version(): string {
    return this.bundle.manifest.version;
  }

  private async warm(): Promise<void> {
    const Du = featureLayout(this.bundle.manifest.embeddingDim).userDim;
    const rows = Int32Array.from({ length: Math.min(8, this.catalog.size) }, (_, i) => i);
    await this.pool.warm({ ranker: new Float32Array(Du), preranker: new Float32Array(Du) }, rows, this.now());
    // A two-pass index search builds its 8-bit copy of the lists at its first
    // call (~0.5 s for 1M x 64): here, off the event loop, not in a request.
    if (this.deps.refine) await this.catalog.index.search(new Float32Array(this.bundle.manifest.embeddingDim), { k: 1, nprobe: 1, refine: this.deps.refine });
  }

  /**
   * Fits the cascade into the time left before the deadline. The cost of each
   * stage is predicted from an exponentially weighted mean of its recent
   * durations; while the prediction (with a 25% margin) exceeds the time left,
   * the next step of this documented order is applied:
   *   1. smaller K (a quarter, at least 5 x num_results),
   *   2. no strong pre-rank model (heavy budget 0),
   *   3. no MMR/DPP (diversity none),
   *   4. no ranker: the page is composed from the pre-rank order.
   * Returns the degradation steps taken (also reported in the response).
   */
  private plan(input: RankInput): { input: RankInput; steps: string[]; skipRank: ReadonlySet<string> } {
    const left = input.deadline - Date.now();
    if (!Number.isFinite(left)) return { input, steps: [], skipRank: NOTHING_SKIPPED };
    const cost = (id: string) => this.ewma.get(id) ?? 0;
    let predicted = this.stages.reduce((a, st) => a + cost(st.id), 0);
    const margin = 1.25;
    const steps: string[] = [];
    let o = input.options;
    let skipRank = NOTHING_SKIPPED;
    const K = o.retrievalK;
    if (predicted * margin > left && !input.candidateRows && K > 5 * input.numResults) {
      o = { ...o, retrievalK: Math.max(5 * input.numResults, Math.floor(K / 4)), prerankKeep: Math.min(o.prerankKeep, Math.max(5 * input.numResults, Math.floor(K / 4))) };
      predicted -= 0.5 * (cost('retrieval') + cost('prerank'));
      steps.push('smaller_k');
    }
    if (predicted * margin > left && o.heavyBudget > 0) {
      o = { ...o, heavyBudget: 0 };
      predicted -= 0.5 * cost('prerank');
      steps.push('no_strong_prerank');
    }
    if (predicted * margin > left && o.diversity !== 'none') {
      o = { ...o, diversity: 'none' };
      predicted -= 0.5 * cost('policy');
      steps.push('no_diversity');
    }
    if (predicted * margin > left) {
      skipRank = RANK_SKIPPED;
      steps.push('no_rank');
    }
    return { input: steps.length > 0 ? { ...input, options: o } : input, steps, skipRank };
  }

  /**
   * Runs the cascade for one request. At most maxActiveRanks requests run at
   * once; the others wait for a slot (admission.ts). Most of a request's work
   * runs on this thread, so letting every accepted request run would share
   * the CPU among all of them: under overload each would take many times
   * longer and all could miss their deadlines together. A request that
   * cannot get a slot in time is refused with QueueWaitError before any work.
   */
  async rank(request: RankInput): Promise<RankOutput> {
    this.inflight++;
    try {
      try {
        await this.slots.acquire(request.deadline, request.signal);
      } catch (err) {
        if (request.signal?.aborted) this.cancelled++;
        throw err;
      }
      const t0 = performance.now();
      try {
        return await this.runCascade(request);
      } finally {
        this.slots.release(performance.now() - t0);
      }
    } finally {
      this.inflight--;
    }
  }

  private async runCascade(request: RankInput): Promise<RankOutput> {
    const { input, steps, skipRank } = this.plan(request);
    const ctx: RankContext = {
      input,
      deps: this.deps,
      now: this.now(),
      user: null,
      userEmb: null,
      pricePref: 0,
      userFeatures: null,
      removed: [],
      dropped: [],
      unmet: [],
      strongScored: 0,
      towerCache: null,
      degradations: [...steps],
      trail: input.debug ? new Map() : null,
      note: '',
    };
    const reports: StageReport[] = [];
    const m = this.opts.metrics;
    let c = emptyCandidates();
    for (const stage of this.stages) {
      if (Date.now() > input.deadline) throw new DeadlineError(`deadline exceeded before stage ${stage.id}`);
      if (input.signal?.aborted) {
        this.cancelled++;
        throw input.signal.reason ?? new Error('cancelled');
      }
      if (stage.skip && (skipRank.has(stage.id) || input.options.skipStages?.has(stage.id))) {
        c = stage.skip(ctx, c);
        continue;
      }
      const before = c.rows.length;
      ctx.note = '';
      const t0 = process.hrtime.bigint();
      c = await stage.run(ctx, c);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      if (steps.length === 0) this.ewma.set(stage.id, 0.9 * (this.ewma.get(stage.id) ?? secs * 1000) + 0.1 * secs * 1000);
      m?.observeStage(stage.id, secs, before, c.rows.length);
      // The share of the K pre-rank candidates the strong model scored.
      if (stage.id === 'prerank' && before > 0) m?.strongModelFraction.observe(ctx.strongScored / before);
      if (ctx.trail && !stage.ownTrail) recordTrail(ctx, stage.id, c);
      if (input.debug) reports.push({ stage: stage.id, millis: secs * 1000, candidatesIn: before, candidatesOut: c.rows.length, note: ctx.note });
    }
    const H = this.bundle.manifest.objectives.length;
    for (const step of ctx.degradations) m?.degraded.inc({ reason: step });
    for (const d of ctx.dropped) m?.candidatesDropped.inc({ stage: d.stage, reason: d.reason }, d.count);
    for (const rule of ctx.unmet) m?.policyRuleUnmet.inc({ rule });
    if (ctx.towerCache) m?.userEmbeddingCache.inc({ result: ctx.towerCache });
    return {
      items: Array.from(c.rows, (row, i) => ({
        row,
        score: c.scores[i],
        objectives: c.objectives ? c.objectives.slice(i * H, (i + 1) * H) : new Float32Array(H),
        provenance: c.provenance[i] as 1 | 2 | 3,
        strong: c.strong[i] === 1,
        exploration: c.exploration?.[i] === 1,
        stageScores: ctx.trail?.get(row),
      })),
      bundleVersion: this.version,
      degraded: ctx.degradations.length > 0,
      degradations: ctx.degradations,
      stages: reports,
      removed: ctx.removed,
    };
  }

  /** Applies events (rows already resolved); returns how many were accepted. */
  recordEvents(events: EngineEvent[]): number {
    this.store.apply(events, this.now());
    this.stats.apply(events);
    const m = this.opts.metrics;
    if (m) for (const e of events) m.eventsIngested.inc({ action: ACTION_NAMES[e.action] ?? 'unknown' });
    return events.length;
  }

  async upsertItems(items: NewItem[]): Promise<{ inserted: number; updated: number }> {
    const r = await this.catalog.upsert(items);
    this.opts.metrics?.catalogItems.set(this.catalog.itemCount);
    return r;
  }

  async deleteItems(ids: string[]): Promise<{ deleted: number; unknown: string[] }> {
    const r = await this.catalog.delete(ids);
    this.opts.metrics?.catalogItems.set(this.catalog.itemCount);
    return r;
  }

  async close(): Promise<void> {
    await this.pool.close();
    await this.deps.tower.close();
  }
}
