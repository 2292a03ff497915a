// The engine: one loaded bundle with its live catalog, user state, scoring
// pool and user tower, and the cascade that ranks. The orchestrator runs the
// stages in order, times each one, records metrics and, in debug mode, each
// candidate's score per stage and why candidates were removed.
import * as os from 'node:os';

import type { Bundle } from '../bundle/loader';
import { featureLayout } from '../models/layout';
import { topK } from '../native';
import { LiveCatalog, NewItem } from '../catalog/catalog';
import type { EngineDeps, RankContext, Stage } from './context';
import { emptyCandidates, recordTrail } from './context';
import type { RankInput, RankOutput, StageReport } from './request';
import { ScoringPool } from '../scoring/pool';
import { defaultCascade } from '../stages';
import { EngineEvent, InMemoryUserStore, ItemStats, seedFromEvents, UserStore } from '../state';
import { isItemCounter, SharedItemStats } from '../state/shared-item-stats';
import { EngineOptions, ivfCodeBytes, ivfScanFraction } from './options';
import { ACTION_NAMES } from '../models/schema';
import { DeadlineError, QueueWaitError, SlotQueue } from './admission';
import { RowMarks } from '../catalog/row-marks';
import { plan, waitBudget } from './planner';

export { DeadlineError, QueueWaitError };
import { UserTower } from '../models/user-tower';
import { USER_EMBEDDING_CACHE_DEFAULTS, UserEmbeddingCache } from '../models/user-embedding-cache';

export class Engine {
  readonly catalog: LiveCatalog;
  readonly store: UserStore;
  readonly stats: ItemStats;
  /** The new items' click counts shared through the store, when it can (Redis). */
  private readonly sharedStats: SharedItemStats | null = null;
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
    // A shared store (Redis) shares the new items' click counts too.
    if (isItemCounter(this.store)) {
      const ttlMs = 2 * bundle.manifest.features.newItemDays * 86_400_000;
      this.sharedStats = new SharedItemStats(this.store, this.stats, this.catalog, { ttlMs, maxItems: opts.freshPool, onError: opts.onSharedStatsError });
    }
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
    if (opts.seedEvents) await seedFromEvents(engine.store, engine.stats, opts.seedEvents, engine.catalog, engine.now());
    await engine.warm();
    engine.sharedStats?.start(() => engine.now());
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
    return typeof this.opts.clock === 'function' ? this.opts.clock() : Date.now() + this.clockOffset;
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
    const { input, steps, skip } = plan(request, this.stages, (id) => this.ewma.get(id) ?? 0, Date.now());
    let at = 0; // the running stage
    const ctx: RankContext = {
      input,
      deps: this.deps,
      now: this.now(),
      user: null,
      userEmb: null,
      pricePref: 0,
      userFeatures: null,
      interests: null,
      interestOf: input.debug ? new Map() : null,
      removed: [],
      dropped: [],
      unmet: [],
      strongScored: 0,
      towerCache: null,
      degradations: [...steps],
      trail: input.debug || input.log ? new Map() : null,
      note: '',
      waitBudgetMs: () => waitBudget(input.deadline, Date.now(), this.stages, at, (id) => (input.options.skipStages?.has(id) ? 0 : (this.ewma.get(id) ?? 0)), skip),
    };
    const reports: StageReport[] = [];
    const m = this.opts.metrics;
    let c = emptyCandidates();
    for (; at < this.stages.length; at++) {
      const stage = this.stages[at];
      if (Date.now() > input.deadline) throw new DeadlineError(`deadline exceeded before stage ${stage.id}`);
      if (input.signal?.aborted) {
        this.cancelled++;
        throw input.signal.reason ?? new Error('cancelled');
      }
      if (stage.skip && (skip.has(stage.id) || input.options.skipStages?.has(stage.id))) {
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
      if (m) stage.observe?.(m, ctx, before);
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
        interest: ctx.interestOf ? (ctx.interestOf.get(row) ?? -1) + 1 : undefined,
        propensity: c.propensity?.[i],
      })),
      bundleVersion: this.version,
      degraded: ctx.degradations.length > 0,
      degradations: ctx.degradations,
      stages: reports,
      removed: ctx.removed,
      ...(input.log ? { now: ctx.now, ...(ctx.userFeatures ? { userFeatures: ctx.userFeatures } : {}) } : {}),
    };
  }

  /** Applies events (rows already resolved); returns how many were accepted. */
  async recordEvents(events: EngineEvent[]): Promise<number> {
    const now = this.now();
    await Promise.all([this.store.apply(events, now, this.catalog), this.sharedStats?.record(events, now)]);
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
    await this.sharedStats?.stop();
    await this.pool.close();
    await this.deps.tower.close();
  }
}
