// The engine: one loaded bundle with its live catalog, user state, scoring
// pool and user tower, and the cascade that ranks. The orchestrator runs the
// stages in order, times each one, records metrics and, in debug mode, each
// candidate's score per stage and why candidates were removed.
import type { Bundle } from '../bundle/loader';
import { featureLayout } from '../features/layout';
import { topK } from '../native';
import type { Metrics } from '../server/metrics';
import { LiveCatalog, NewItem } from './catalog';
import type { EngineDeps, RankContext, Stage } from './context';
import { emptyCandidates, recordTrail } from './context';
import type { RankInput, RankOutput, StageReport } from './request';
import { ScoringPool } from './scoring/pool';
import { defaultCascade } from './stages';
import { EngineEvent, InMemoryUserStore, ItemStats, seedFromEvents, UserStore } from './state';
import { ACTION_NAMES } from './types';
import { UserTower } from './user-tower';

export interface EngineOptions {
  threads: number;
  maxBatchRows: number;
  maxQueuedRows: number;
  /** Extra catalog rows for UpsertItems. */
  catalogHeadroom: number;
  seenTtlMs: number;
  purchaseWindowMs: number;
  freshPool: number;
  freshKeep: number;
  /** The engine's clock: wall time, or the bundle's referenceTime (demo worlds) advancing from start. */
  clock: 'wall' | 'bundle';
  /** events.jsonl to seed user state from. */
  seedEvents?: string;
  metrics?: Metrics;
  store?: UserStore;
}

export class DeadlineError extends Error {}

export class Engine {
  readonly catalog: LiveCatalog;
  readonly store: UserStore;
  readonly stats: ItemStats;
  readonly pool: ScoringPool;
  private readonly deps: EngineDeps;
  private readonly stages: Stage[];
  private readonly clockOffset: number;

  private constructor(
    readonly bundle: Bundle,
    private readonly opts: EngineOptions,
    tower: UserTower,
  ) {
    this.catalog = new LiveCatalog(bundle, bundle.index, opts.catalogHeadroom);
    this.store = opts.store ?? new InMemoryUserStore({ seenTtlMs: opts.seenTtlMs, purchaseWindowMs: opts.purchaseWindowMs });
    this.stats = new ItemStats(this.catalog.capacity);
    this.pool = new ScoringPool(bundle, this.catalog, { threads: opts.threads, maxBatchRows: opts.maxBatchRows, maxQueuedRows: opts.maxQueuedRows });
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
      layout: featureLayout(bundle.manifest.embeddingDim),
      popular,
      freshPool: opts.freshPool,
      freshKeep: opts.freshKeep,
    };
    this.stages = defaultCascade({ seenTtlMs: opts.seenTtlMs, purchaseWindowMs: opts.purchaseWindowMs });
    const m = opts.metrics;
    if (m) {
      this.pool.onBatch = (model, rows, _segments, wait) => m.observeBatch(model, rows, wait);
      m.setBundle(bundle.manifest.name, bundle.manifest.version);
    }
  }

  static async create(bundle: Bundle, opts: EngineOptions): Promise<Engine> {
    const tower = await UserTower.create(bundle.userTower, bundle.manifest.embeddingDim);
    const engine = new Engine(bundle, opts, tower);
    if (opts.seedEvents) await seedFromEvents(engine.store, engine.stats, opts.seedEvents, engine.catalog.rowOf, engine.now());
    await engine.warm();
    return engine;
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
  }

  async rank(input: RankInput): Promise<RankOutput> {
    const ctx: RankContext = {
      input,
      deps: this.deps,
      now: this.now(),
      user: null,
      userEmb: null,
      pricePref: 0,
      userFeatures: null,
      removed: [],
      degradations: [],
      trail: input.debug ? new Map() : null,
      note: '',
    };
    const reports: StageReport[] = [];
    const m = this.opts.metrics;
    let c = emptyCandidates();
    for (const stage of this.stages) {
      if (Date.now() > input.deadline) throw new DeadlineError(`deadline exceeded before stage ${stage.id}`);
      if (input.signal?.aborted) throw input.signal.reason ?? new Error('cancelled');
      const before = c.rows.length;
      ctx.note = '';
      const t0 = process.hrtime.bigint();
      c = await stage.run(ctx, c);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      m?.observeStage(stage.id, secs, before, c.rows.length);
      if (stage.id === 'prerank' && before > 0) {
        let strong = 0;
        for (const s of c.strong) strong += s;
        m?.strongModelFraction.observe(strong / before);
      }
      if (ctx.trail && stage.id !== 'prerank') recordTrail(ctx, stage.id, c);
      if (input.debug) reports.push({ stage: stage.id, millis: secs * 1000, candidatesIn: before, candidatesOut: c.rows.length, note: ctx.note });
    }
    const H = this.bundle.manifest.objectives.length;
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
