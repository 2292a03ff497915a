// The quality evaluator: serves the real engine through its gRPC API (a
// RankingService on 127.0.0.1, ephemeral port, in this process) and calls it
// with a grpc-js client, as a user would; scores every returned list against
// the world's ground truth (the true weighted utility of every item for the
// user, surface and device, with the surface's default objective weights).
//
// The oracle list is the catalog's top items by true utility. Baselines:
//   random       50 rows drawn uniformly (seeded), computed here;
//   popularity   the top 50 by the bundle's item_bias, computed here;
//   two-tower    through the API: heavy_budget 0, diversity NONE, exploration
//                NONE, prerank_keep = num_results = 200, no brand-run rule,
//                debug on; the returned items re-sorted by their 'light'
//                stage score (the engine's two-tower score <user emb, item
//                emb> + the bundle's bias term) and cut to 50. Seen and
//                duplicate items are still filtered by the policy.
//   no-shortcuts through the API: retrieval_k = min(5000, items),
//                heavy_budget 1.0, diversity NONE, exploration NONE.
//
// The cost of each shortcut:
//   ANN          one engine per index search setting (EngineOptions.search,
//                sharing the default engine's user state), all served in turn
//                by the same RankingService; final NDCG@50 through the API.
//                Retrieval recall@K of the same index search (the bundle's
//                index, the setting's nprobe / efSearch) against the exact
//                top K by inner product over every catalog row (native
//                scoreRows + topK), for the user embedding the engine computes
//                (the bundle's user tower over the user's stored actions; the
//                report checks it against the light scores the API returns).
//   retrieval    the same index search at the default setting against the
//                truth: of the user's true top TRUE_TOP_N items by true
//                weighted utility, the share among the K candidates (also
//                with the fresh source's picks added, as the engine does,
//                and for the exact top K and top REFERENCE_K by inner
//                product); cold users: the popular top K plus fresh picks.
//   objectives   every list also scored per objective o of the bundle: the
//                gain is the true P(o), the oracle ranks by P(o).
//   HAP routing  an engine with hapRouting 'top' (the strong pre-ranker sees
//                the top B by light score) beside the default 'uncertainty'.
//   exploration  epsilon-greedy with several epsilons and start positions:
//                new-item share by position, new-item recall.
//   precision    an engine whose rankers run in fp32 beside one per reduced
//                precision (int8, bf16), the same requests: NDCG of each and
//                the overlap of their top 50s (precision.ts).
//   reactivity   after all the above: for a sub-sample of users, a Rank call,
//                a burst of RecordEvents (clicks, then carts) on items of a
//                category the user does not favour, and the same Rank again.
import { execFileSync } from 'node:child_process';
import pino from 'pino';

import { loadBundle, newItemMask } from '../../src/bundle/loader';
import { ActionType, Device as WireDevice, RankingClient, RankRequest, RankResponse__Output, StageOptions, Surface as WireSurface } from '../../src/client';
import { Engine } from '../../src/pipeline/engine';
import { ENGINE_DEFAULTS } from '../../src/pipeline/options';
import { UserTower } from '../../src/models/user-tower';
import { onednnCpu, scoreRows, topK } from '../../src/native';
import type { DcnPrecision } from '../../src/native/dcn-precision';
import { createMetrics } from '../../src/metrics/metrics';
import { RankingService } from '../../src/api/service';
import { DEFAULT_RANK } from '../../src/pipeline/options';
import { Rng } from '../../src/util/random';
import { ensureWorld } from '../world/cache';
import { Objective, OBJECTIVES, WorldConfig } from '../world/schema';
import { Device, Surface } from '../../src/models/schema';
import { trueProbabilities, trueUtility } from '../world/truth';
import { loadTruth } from '../world/truth-files';
import {
  bootstrapRatio,
  column,
  countWhere,
  distinctCount,
  groupMeans,
  Interval,
  maxBrandRun,
  mean,
  meanInterval,
  ndcgAt,
  pairedDifference,
  pooledShare,
  recallAt,
  recallOfTop,
  shareByPosition,
} from './metrics';
import { precisionSection, PrecisionRun, PrecisionSection, REDUCED_PRECISIONS } from './precision';

export const EVAL_SURFACES: Surface[] = ['home', 'browse', 'search'];
export const NUM_RESULTS = 50;
/** Retrieval recall against the truth: the share of the user's true top N (by true weighted utility) among the candidates. */
export const TRUE_TOP_N = 100;
/** K of the no-shortcuts reference (capped at the catalog size). */
export const REFERENCE_K = 5000;

export interface EvalConfig {
  /** World directory (generated there if absent or made with another configuration). */
  root: string;
  world: WorldConfig;
  /** Users sampled (stratified by segment). */
  users: number;
  seed: number;
  budgets: number[];
  lambdas: number[];
  /** Scoring workers of each engine. */
  threads: number;
  command: string;
  log?: (msg: string) => void;
  /** Index search settings compared (default: searchGrid() of the bundle's index). */
  search?: SearchSetting[];
  /** Heavy budgets at which HAP routing is compared with top-B routing. */
  routingBudgets?: number[];
  /** Epsilons tried at the default exploration start, and starts tried at the default epsilon. */
  epsilons?: number[];
  explorationStarts?: number[];
  /** Users of the reactivity check (default min(100, users)), and the burst per user. */
  reactivityUsers?: number;
  reactivityClicks?: number;
  reactivityCarts?: number;
  /** Bootstrap resamples of the headline ratios' intervals. */
  bootstrapIters?: number;
  /**
   * Ranker precisions compared with an fp32 engine on the same requests
   * (default REDUCED_PRECISIONS: int8 and bf16; 'fp32' compares a second
   * fp32 engine; empty: no precision section).
   */
  precisions?: DcnPrecision[];
}

export const DEFAULT_BUDGETS = [0, 0.05, 0.1, 0.2, 0.5, 1.0];
export const DEFAULT_LAMBDAS = [0.3, 0.5, 0.7, 0.9];
export const DEFAULT_ROUTING_BUDGETS = [0.05, 0.1, 0.2];
export const DEFAULT_EPSILONS = [0, 0.05, 0.1, 0.2];
export const DEFAULT_EXPLORATION_STARTS = [1, 5, 10];

export interface SearchSetting {
  /** IVF lists probed / HNSW candidate list size; unset: the index's own default. */
  nprobe?: number;
  efSearch?: number;
}

/**
 * Index search settings worth comparing for the bundle's index: for IVF
 * (factory "IVF<nlist>,...") nprobe 1, 4, 16, 64, half, once and twice the
 * bundle's nprobe, and nlist (every list: exact up to ties); for HNSW efSearch
 * 16 .. 512 and the bundle's; otherwise (Flat) the one exact setting.
 */
export function searchGrid(index: { factory: string; nprobe?: number; efSearch?: number }): SearchSetting[] {
  const ivf = /IVF(\d+)/.exec(index.factory);
  const uniq = (xs: number[], max: number) => [...new Set(xs.filter((x) => Number.isInteger(x) && x >= 1 && x <= max))].sort((a, b) => a - b);
  if (ivf) {
    const nlist = Number(ivf[1]);
    const d = index.nprobe ?? 1;
    return uniq([1, 4, 16, 64, Math.floor(d / 2), d, 2 * d, nlist], nlist).map((nprobe) => ({ nprobe }));
  }
  if (/HNSW/.test(index.factory)) {
    const d = index.efSearch ?? 16;
    return uniq([16, 32, 64, 128, 256, 512, d], 1 << 20).map((efSearch) => ({ efSearch }));
  }
  return [{}];
}

export function searchLabel(s: SearchSetting): string {
  if (s.nprobe !== undefined) return `nprobe ${s.nprobe}`;
  if (s.efSearch !== undefined) return `efSearch ${s.efSearch}`;
  return 'exact';
}

export interface ListScores {
  ndcg10: number;
  ndcg50: number;
  recall50: number;
  distinctCategories20: number;
  distinctBrands20: number;
  maxBrandRun: number;
  length: number;
  /** Share of the list that is new (created within the bundle's newItemDays). */
  newShare: number;
  /** Of the user's 50 best new items by true utility, the share in the list. */
  newRecall50: number;
}

export interface ConfigResult extends ListScores {
  name: string;
  description: string;
  /** The wire options sent (null: computed in the evaluator, not requested). */
  options: Record<string, unknown> | null;
  /** The engine that served it ('default', or the variant's settings). */
  engine: string;
  requests: number;
  /** Per-request 95% intervals (mean -/+ 1.96 stderr over users). */
  ndcg10Ci: Interval;
  ndcg50Ci: Interval;
  /** Mean prerank / retrieval stage time (debug stage report), ms. */
  prerankMs: number | null;
  retrievalMs: number | null;
  /** Mean client-side Rank latency, ms. */
  requestMs: number | null;
  /** Mean share of candidates the strong pre-ranker scored. */
  strongFraction: number | null;
  /** Mean share of the list placed by exploration (the response's flag). */
  explorationShare: number | null;
  bySegment: Record<string, { users: number; ndcg10: number; ndcg50: number }>;
  /** The same by surface (home / browse / search; the sample rotates through EVAL_SURFACES). */
  bySurface: Record<string, { users: number; ndcg10: number; ndcg50: number }>;
  /** Per objective o of the bundle: NDCG with gain P(o) against the oracle ranking by P(o). */
  byObjective: Record<string, { ndcg10: number; ndcg50: number; ndcg50Ci: Interval }>;
}

export interface AnnPoint {
  label: string;
  nprobe: number | null;
  efSearch: number | null;
  isDefault: boolean;
  /** recall@K of the index search vs the exact top K, over the measured users. */
  recallAtK: Interval;
  /** The same for the first 50 of each. */
  recallAt50: Interval;
  /** Of the user's true top TRUE_TOP_N items (true weighted utility), the share among the K the index search returns. */
  truthRecall: Interval;
  /** In-process index search time for one query, mean ms. */
  searchMs: number;
  /** Final list through the API with this setting (default knobs, exploration NONE). */
  ndcg50: Interval;
  retrievalMs: number | null;
}

export interface ExplorationRow {
  name: string;
  epsilon: number;
  start: number;
  ndcg50: Interval;
  newShare: number;
  newRecall50: number;
  explorationShare: number;
  /** New-item share at each position 1..50 (index 0 is position 1). */
  newByPosition: number[];
  /** Pooled new-item share over positions 1-4, 5-10, 11-20, 21-50. */
  newByBucket: { positions: string; share: number }[];
}

export interface EvalReport {
  command: string;
  date: string;
  commit: string;
  /** Whether tracked files differed from the commit when the run started. */
  uncommittedChanges: boolean;
  world: { root: string; items: number; users: number; dim: number; seed: number; index: { factory: string; nprobe: number | null; efSearch: number | null } };
  sample: { users: number; segments: Record<string, number>; surfaces: Record<string, number>; seed: number };
  numResults: number;
  defaults: typeof DEFAULT_RANK;
  /** The oracle list scored by the same code: must be 1. */
  oracleCheck: Omit<ListScores, 'length'>;
  configs: Record<string, ConfigResult>;
  objectives: {
    note: string;
    /** The bundle's objectives that the ground truth knows, in the bundle's order. */
    names: string[];
    /** The weighted-utility oracle's own list scored per objective (the ceiling of a list made for the weighted utility). */
    weightedOracle: Record<string, { ndcg10: number; ndcg50: number }>;
    /** Each objective's oracle list scored against itself, mean NDCG@50 over users and objectives: must be 1. */
    selfCheckNdcg50: number;
  };
  retrieval: {
    note: string;
    trueTopN: number;
    k: number;
    freshKeep: number;
    warmUsers: number;
    coldUsers: number;
    /** Warm users: the index search at the default setting (the engine's K ANN candidates). */
    index: Interval;
    /** The same plus the fresh source's picks (all the candidates the engine retrieves). */
    indexPlusFresh: Interval;
    /** The exact top K by inner product (a perfect index at the same K). */
    exact: Interval;
    /** The exact top K of the no-shortcuts reference. */
    exactReference: { k: number; recall: Interval };
    /** Cold users (zero embedding): the popular top K plus the fresh picks by bias (null: none sampled). */
    coldPopularPlusFresh: Interval | null;
    /** The index recall of warm users by surface (the truth depends on the surface; retrieval does not). */
    indexBySurface: Record<string, { users: number; recall: number }>;
  };
  headline: {
    engineNdcg50: number;
    popularityNdcg50: number;
    noShortcutsNdcg50: number;
    twoTowerNdcg50: number;
    vsPopularity: number;
    vsNoShortcuts: number;
    /** 95% intervals: per-request for the NDCGs, paired bootstrap over users for the ratios. */
    ci: {
      engineNdcg50: Interval;
      popularityNdcg50: Interval;
      noShortcutsNdcg50: Interval;
      twoTowerNdcg50: Interval;
      vsPopularity: { lo: number; hi: number };
      vsNoShortcuts: { lo: number; hi: number };
      bootstrapIters: number;
    };
    targets: { vsPopularityAtLeast: number; vsNoShortcutsAtLeast: number; vsPopularityMet: boolean; vsNoShortcutsMet: boolean };
  };
  ann: {
    note: string;
    k: number;
    usersMeasured: number;
    coldUsersSkipped: number;
    /** Max |light score from the API - (<embedding, item> + bias term)| over the checked items. */
    embeddingCheck: { items: number; maxAbsDiff: number };
    curve: AnnPoint[];
    defaultRecallAtK: number | null;
    targets: { recallAtLeast: number; onWorldItems: number; thisWorldItems: number; met: boolean | null };
  };
  hap: {
    note: string;
    curve: { budget: number; ndcg10: number; ndcg50: number; prerankMs: number; strongFraction: number }[];
    ratioNdcg50At20vs100: number | null;
    ratioPrerankMsAt20vs100: number | null;
    routing: {
      note: string;
      rows: { budget: number; uncertaintyNdcg50: number; topNdcg50: number; difference: Interval; uncertaintyPrerankMs: number | null; topPrerankMs: number | null }[];
    };
    targets: {
      ndcgRatioAtLeast: number;
      timeRatioAtMost: number;
      met: boolean | null;
      /** Mean NDCG@50 of HAP routing above top-B routing at budget 0.2 (null: not measured). */
      beatsTopAt20: boolean | null;
      /** The paired 95% interval of that difference lies above 0. */
      beatsTopAt20Significant: boolean | null;
    };
  };
  diversity: {
    note: string;
    points: { method: string; lambda: number | null; ndcg10: number; distinctCategories20: number; distinctBrands20: number; maxBrandRun: number; pareto: boolean }[];
  };
  exploration: {
    note: string;
    newItemDays: number;
    /** Share of the catalog that is new, and of the oracle's top 50. */
    catalogNewShare: number;
    oracleNewShare: number;
    rows: ExplorationRow[];
  };
  reactivity: {
    note: string;
    users: number;
    clicks: number;
    carts: number;
    /** Items of the burst's category in the top 20, before and after. */
    before: Interval;
    after: Interval;
    /** After, not counting the clicked items themselves. */
    afterOtherItems: Interval;
    usersWithAnyBefore: number;
    usersWithAnyAfter: number;
    /** Events acknowledged by RecordEvents (must equal those sent). */
    eventsSent: number;
    eventsAccepted: number;
  };
  /** Reduced-precision rankers against fp32 (null: cfg.precisions empty). */
  precision: PrecisionSection | null;
  seconds: number;
}

// ---------------------------------------------------------------- client

/** Deadline of the evaluator's calls to its in-process service. */
const CALL_DEADLINE_MS = 60_000;

/** The proto's names of the world's surfaces and devices. */
const WIRE_SURFACE: Record<Surface, WireSurface> = { home: 'SURFACE_HOME', browse: 'SURFACE_BROWSE', search: 'SURFACE_SEARCH', pdp: 'SURFACE_PDP' };
const WIRE_DEVICE: Record<Device, WireDevice> = { mobile: 'DEVICE_MOBILE', desktop: 'DEVICE_DESKTOP', app: 'DEVICE_APP' };

// ---------------------------------------------------------------- helpers

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Stratified sample: the new-user segment in proportion (at least one of each segment when both exist). */
export function sampleUsers(segments: ('new' | 'returning')[], n: number, seed: number): number[] {
  const rng = new Rng(seed);
  const fresh = shuffle(segments.flatMap((s, i) => (s === 'new' ? [i] : [])), rng);
  const ret = shuffle(segments.flatMap((s, i) => (s === 'returning' ? [i] : [])), rng);
  n = Math.min(n, segments.length);
  let nNew = Math.round((n * fresh.length) / Math.max(1, segments.length));
  if (nNew === 0 && fresh.length > 0 && n > 1) nNew = 1;
  nNew = Math.min(nNew, fresh.length, n);
  const nRet = Math.min(ret.length, n - nNew);
  return [...ret.slice(0, nRet), ...fresh.slice(0, n - nRet)].sort((a, b) => a - b);
}

function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** Indices of the Pareto-optimal points when both coordinates are to be maximised. */
export function paretoFront(points: { a: number; b: number }[]): boolean[] {
  return points.map((p, i) => !points.some((q, j) => j !== i && q.a >= p.a && q.b >= p.b && (q.a > p.a || q.b > p.b)));
}

/** Catalog rows from the int64 ids of an index search (-1 ends the list). */
function idsToRows(ids: BigInt64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const r = Number(ids[i]);
    if (r < 0) break;
    out.push(r);
  }
  return out;
}

export const POSITION_BUCKETS: [number, number][] = [
  [0, 4],
  [4, 10],
  [10, 20],
  [20, 50],
];

interface Sample {
  scores: ListScores;
  segment: string;
  surface: string;
  /** NDCG@10 / @50 per objective (the order of report.objectives.names). */
  objNdcg10: number[];
  objNdcg50: number[];
  prerankMs: number | null;
  retrievalMs: number | null;
  requestMs: number | null;
  strongFraction: number | null;
  newFlags: Uint8Array;
  explorationShare: number | null;
}

interface Spec {
  name: string;
  description: string;
  /** The request's stage options; null for lists computed here. */
  options: StageOptions | null;
  /** The engine that serves it (default 'default'). */
  engine?: string;
  numResults?: number;
  /** Turns the response into the scored rows (default: the items in order). */
  pick?: (res: RankResponse__Output) => string[];
}

// ---------------------------------------------------------------- the run

export async function runEval(cfg: EvalConfig): Promise<EvalReport> {
  const t0 = Date.now();
  const log = cfg.log ?? (() => undefined);
  const uncommittedChanges = (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  const paths = await ensureWorld(cfg.root, cfg.world, log);
  const bundle = await loadBundle(paths.bundle, { progress: false });
  const truth = await loadTruth(paths, bundle);
  const n = bundle.items.n;
  const dim = bundle.manifest.embeddingDim;
  const idx = bundle.manifest.index;
  const metrics = createMetrics({ defaultMetrics: false });
  const base = { ...ENGINE_DEFAULTS, threads: cfg.threads, clock: 'bundle' as const };
  const engine = await Engine.create(bundle, { ...base, seedEvents: paths.events, metrics });
  // Variant engines share the default engine's user state (the store the seed
  // events went into); requests to them use exploration NONE, so the item
  // click statistics (Thompson sampling only) do not matter.
  const engines = new Map<string, Engine>([['default', engine]]);
  const grid = cfg.search ?? searchGrid(idx);
  const isDefaultSetting = (s: SearchSetting) => (s.nprobe ?? idx.nprobe) === idx.nprobe && (s.efSearch ?? idx.efSearch) === idx.efSearch;
  const engineOf = (s: SearchSetting) => (isDefaultSetting(s) ? 'default' : `search ${searchLabel(s)}`);
  const service = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics, logger: pino({ level: 'silent' }) });
  const tower = await UserTower.create(bundle.userTower, dim);
  let client: RankingClient | null = null;
  try {
    for (const s of grid) {
      if (!engines.has(engineOf(s))) engines.set(engineOf(s), await Engine.create(bundle, { ...base, store: engine.store, search: s }));
    }
    engines.set('top-routing', await Engine.create(bundle, { ...base, store: engine.store, hapRouting: 'top' }));
    // Precision engines: the fp32 reference, then one per compared precision,
    // built one after the other the same way (not the default engine even
    // where its 'auto' is that precision: its clock started earlier, it holds
    // a warm user-embedding cache), so they differ in the rankers' precision.
    const precisions = [...new Set(cfg.precisions ?? REDUCED_PRECISIONS)];
    const runsIn = (e: Engine, p: DcnPrecision) => e.pool.precision.ranker.precision === p && e.pool.precision.preranker.precision === p;
    const precisionRef = precisions.length === 0 ? null : 'fp32 reference';
    const precisionEngines = precisions.map((p) => ({ precision: p, engine: `precision ${p}` }));
    for (const { precision: p, engine: key } of precisionRef === null ? [] : [{ precision: 'fp32' as const, engine: precisionRef }, ...precisionEngines]) {
      const e = await Engine.create(bundle, { ...base, store: engine.store, rankerPrecision: p });
      engines.set(key, e);
      if (!runsIn(e, p)) throw new Error(`the ${key} engine runs ${JSON.stringify(e.pool.precision)}, not ${p}`);
    }
    log(`${engines.size} engines: ${[...engines.keys()].join(', ')}`);
    await service.start();
    service.setEngine(engine);
    let serving = 'default';
    const use = (key: string) => {
      if (key !== serving) {
        service.setEngine(engines.get(key)!);
        serving = key;
      }
    };
    client = new RankingClient(`127.0.0.1:${service.grpcPort}`, { deadlineMs: CALL_DEADLINE_MS });
    const rowOf = bundle.items.rowOf;
    const toRows = (ids: string[]) =>
      ids.map((id) => {
        const r = rowOf.get(id);
        if (r === undefined) throw new Error(`the service returned an unknown item ${id}`);
        return r;
      });

    const byLight = (res: RankResponse__Output) =>
      res.items
        .map((it) => ({ id: it.item_id, s: it.stage_scores.find((x) => x.stage === 'light')?.score ?? -Infinity }))
        .sort((a, b) => b.s - a.s)
        .slice(0, NUM_RESULTS)
        .map((x) => x.id);
    const none: StageOptions = { exploration: 'EXPLORATION_METHOD_NONE' };
    const routingBudgets = cfg.routingBudgets ?? DEFAULT_ROUTING_BUDGETS;
    const epsilons = cfg.epsilons ?? DEFAULT_EPSILONS;
    const starts = cfg.explorationStarts ?? DEFAULT_EXPLORATION_STARTS;
    const hapBudgets = [...new Set([...cfg.budgets, ...routingBudgets])];
    const explore = [
      ...epsilons.map((e) => ({ e, k: DEFAULT_RANK.explorationStart })),
      ...starts.filter((k) => k !== DEFAULT_RANK.explorationStart).map((k) => ({ e: DEFAULT_RANK.epsilon, k })),
    ];
    const annName = (s: SearchSetting) => `ann-${searchLabel(s).replace(' ', '-')}`;
    const specs: Spec[] = [
      { name: 'random', description: `${NUM_RESULTS} distinct rows drawn uniformly (seeded), computed in the evaluator`, options: null },
      { name: 'popularity', description: `top ${NUM_RESULTS} by item_bias (the same list for everyone), computed in the evaluator`, options: null },
      {
        name: 'two-tower',
        description: 'API: heavy_budget 0, diversity NONE, exploration NONE, prerank_keep 200, num_results 200, brand_run_limit 1000; items re-sorted by their light (two-tower) stage score, top 50',
        options: { ...none, heavy_budget: 0, diversity: 'DIVERSITY_METHOD_NONE', prerank_keep: 200, brand_run_limit: 1000 },
        numResults: 200,
        pick: byLight,
      },
      { name: 'engine', description: 'API: default knobs, exploration NONE', options: { ...none } },
      { name: 'engine+exploration', description: 'API: default knobs including the default epsilon-greedy exploration', options: {} },
      ...(precisionRef === null
        ? []
        : [
            { name: 'precision-fp32-reference', description: "API: default knobs, exploration NONE; rankers in fp32 (the precision section's reference)", options: { ...none }, engine: precisionRef },
            ...precisionEngines.map((x): Spec => ({
              name: `precision-${x.precision}`,
              description: `API: default knobs, exploration NONE; rankers in ${x.precision}`,
              options: { ...none },
              engine: x.engine,
            })),
          ]),
      {
        name: 'no-shortcuts',
        description: 'API: retrieval_k min(5000, items), heavy_budget 1.0, diversity NONE, exploration NONE',
        options: { ...none, retrieval_k: Math.min(5000, n), heavy_budget: 1, diversity: 'DIVERSITY_METHOD_NONE' },
      },
      ...hapBudgets.map((b): Spec => ({ name: `hap-${b}`, description: `API: default knobs, heavy_budget ${b}, exploration NONE`, options: { ...none, heavy_budget: b } })),
      ...routingBudgets.map((b): Spec => ({
        name: `hap-top-${b}`,
        description: `API: default knobs, heavy_budget ${b}, exploration NONE; engine with hapRouting 'top' (strong pre-ranker on the top B by light score)`,
        options: { ...none, heavy_budget: b },
        engine: 'top-routing',
      })),
      ...grid.map((s): Spec => ({
        name: annName(s),
        description: `API: default knobs, exploration NONE; engine with index search ${searchLabel(s)}${isDefaultSetting(s) ? ' (the bundle default)' : ''}`,
        options: { ...none },
        engine: engineOf(s),
      })),
      ...explore.map(({ e, k }): Spec => ({
        name: `explore-e${e}-k${k}`,
        description: `API: default knobs, epsilon-greedy exploration, exploration_epsilon ${e}, exploration_start ${k}`,
        options: { exploration: 'EXPLORATION_METHOD_EPSILON_GREEDY', exploration_epsilon: e, exploration_start: k },
      })),
      { name: 'div-none', description: 'API: default knobs, diversity NONE, exploration NONE', options: { ...none, diversity: 'DIVERSITY_METHOD_NONE' } },
      ...(['MMR', 'DPP'] as const).flatMap((m) =>
        cfg.lambdas.map((l): Spec => ({
          name: `${m.toLowerCase()}-${l}`,
          description: `API: default knobs, diversity ${m}, diversity_lambda ${l}, exploration NONE`,
          options: { ...none, diversity: `DIVERSITY_METHOD_${m}`, diversity_lambda: l },
        })),
      ),
    ];

    const sampled = sampleUsers(truth.users.info.map((u) => u.segment), cfg.users, cfg.seed);
    const samples = new Map<string, Sample[]>(specs.map((s) => [s.name, []]));
    // The returned rows of the precision section's lists (their overlap is compared).
    const precisionLists = new Map<string, number[][]>(specs.filter((s) => s.name.startsWith('precision-')).map((s) => [s.name, []]));
    const oracleScores: ListScores[] = [];
    const popular = Array.from(topK(bundle.bias, NUM_RESULTS));
    const allRows = Int32Array.from({ length: n }, (_, i) => i);
    const isNew = newItemMask(bundle, engine.now());
    const newRows = Int32Array.from(allRows.filter((r) => isNew[r] === 1));
    const catOf = (r: number) => bundle.items.category[r];
    const brandOf = (r: number) => bundle.items.brand[r];
    const segCount: Record<string, number> = {};
    const surfCount: Record<string, number> = {};
    const K = Math.min(DEFAULT_RANK.retrievalK, n);
    const ann = grid.map(() => ({ recallK: [] as number[], recall50: [] as number[], truth: [] as number[], ms: [] as number[] }));
    const defaultG = grid.findIndex((s) => isDefaultSetting(s));
    const refK = Math.min(REFERENCE_K, n);
    const topN = Math.min(TRUE_TOP_N, n);
    const retr = { index: [] as number[], plusFresh: [] as number[], exact: [] as number[], exactRef: [] as number[], cold: [] as number[], surface: [] as string[] };
    const popularK = Array.from(topK(bundle.bias, K));
    // The fresh source as the retrieval stage builds it: the newest rows (up
    // to freshPool) not already retrieved, the best freshKeep by <embedding,
    // item> (by bias for a cold user).
    const freshPicks = (found: number[], emb: Float32Array | null): number[] => {
      const have = new Set(found);
      const fresh = Int32Array.from(engine.catalog.freshRows(engine.now(), base.freshPool).filter((r) => !have.has(r) && engine.catalog.alive[r] === 1));
      if (fresh.length === 0 || base.freshKeep <= 0) return [];
      const s = emb === null ? Float32Array.from(fresh, (r) => bundle.bias[r]) : scoreRows(bundle.embeddings, dim, fresh, emb);
      return Array.from(topK(s, base.freshKeep), (i) => fresh[i]);
    };
    // Per-objective scoring: the bundle's objectives the truth knows.
    const objNames = bundle.manifest.objectives.filter((o) => (OBJECTIVES as readonly string[]).includes(o));
    const objCols = objNames.map((o) => (OBJECTIVES as readonly string[]).indexOf(o));
    const weightedOracleObj = { n10: [] as number[][], n50: [] as number[][] };
    const objSelf: number[] = [];
    let coldUsers = 0;
    const embCheck = { items: 0, maxAbsDiff: 0 };
    const biasWeight = bundle.manifest.lightModel?.biasWeight ?? 0;

    // Warm-up (not scored): the first calls of each engine pay for lazy initialisation.
    for (const key of engines.keys()) {
      use(key);
      for (let i = 0; i < Math.min(2, sampled.length); i++) {
        await client.rank({ user_id: truth.users.info[sampled[i]].id, num_results: NUM_RESULTS, options: { ...none, seed: 1 } });
      }
    }

    for (let s = 0; s < sampled.length; s++) {
      const u = sampled[s];
      const info = truth.users.info[u];
      const surface = EVAL_SURFACES[s % EVAL_SURFACES.length];
      segCount[info.segment] = (segCount[info.segment] ?? 0) + 1;
      surfCount[surface] = (surfCount[surface] ?? 0) + 1;
      const bw = bundle.manifest.defaultWeights[surface];
      const weights = Object.fromEntries(OBJECTIVES.map((o) => [o, bw[o] ?? 0])) as Record<Objective, number>;
      const probs = trueProbabilities(truth.coefficients, truth.items, truth.users, u, allRows, { surface, device: info.device });
      const utility = trueUtility(probs, weights);
      const oracle = Array.from(topK(utility, NUM_RESULTS));
      const ideal = oracle.map((r) => utility[r]);
      // Per objective: gains P(o), the ideal from the catalog's top by P(o).
      const objTruth = objCols.map((j) => {
        const p = column(probs, OBJECTIVES.length, j);
        const top = Array.from(topK(p, NUM_RESULTS));
        return { p, top, ideal: top.map((r) => p[r]) };
      });
      const objScores = (rows: number[]) => ({
        objNdcg10: objTruth.map((t) => ndcgAt(rows.map((r) => t.p[r]), t.ideal, 10)),
        objNdcg50: objTruth.map((t) => ndcgAt(rows.map((r) => t.p[r]), t.ideal, 50)),
      });
      const wo = objScores(oracle);
      weightedOracleObj.n10.push(wo.objNdcg10);
      weightedOracleObj.n50.push(wo.objNdcg50);
      for (const t of objTruth) objSelf.push(ndcgAt(t.ideal, t.ideal, 50));
      const topNew = Array.from(topK(Float32Array.from(newRows, (r) => utility[r]), Math.min(NUM_RESULTS, newRows.length)), (p) => newRows[p]);
      const score = (rows: number[]): ListScores => {
        const gains = rows.map((r) => utility[r]);
        const top20 = rows.slice(0, 20);
        return {
          ndcg10: ndcgAt(gains, ideal, 10),
          ndcg50: ndcgAt(gains, ideal, 50),
          recall50: recallAt(rows, oracle, 50),
          distinctCategories20: distinctCount(top20.map(catOf)),
          distinctBrands20: distinctCount(top20.map(brandOf)),
          maxBrandRun: maxBrandRun(rows.map(brandOf)),
          length: rows.length,
          newShare: rows.length > 0 ? countWhere(rows, (r) => isNew[r] === 1) / rows.length : 0,
          newRecall50: recallAt(rows, topNew, NUM_RESULTS),
        };
      };
      oracleScores.push(score(oracle));
      const userSeed = (cfg.seed * 1_000_003 + u) >>> 0 || 1;
      const cache = new Map<string, Promise<{ res: RankResponse__Output; ms: number }>>();
      let engineResponse: RankResponse__Output | null = null;
      for (const spec of specs) {
        const out = samples.get(spec.name)!;
        if (spec.options === null) {
          let rows: number[];
          if (spec.name === 'random') {
            const rng = new Rng(userSeed);
            const set = new Set<number>();
            while (set.size < Math.min(NUM_RESULTS, n)) set.add(Math.floor(rng.next() * n));
            rows = [...set];
          } else rows = popular;
          out.push({
            scores: score(rows),
            segment: info.segment,
            surface,
            ...objScores(rows),
            prerankMs: null,
            retrievalMs: null,
            requestMs: null,
            strongFraction: null,
            newFlags: Uint8Array.from(rows, (r) => isNew[r]),
            explorationShare: null,
          });
          continue;
        }
        const key = spec.engine ?? 'default';
        const req = {
          user_id: info.id,
          context: { surface: WIRE_SURFACE[surface], device: WIRE_DEVICE[info.device] },
          num_results: spec.numResults ?? NUM_RESULTS,
          debug: true,
          options: { ...spec.options, seed: userSeed },
        };
        // Identical requests to the same engine (e.g. hap-0.2 and the engine's defaults) are sent once.
        const ck = `${key}|${JSON.stringify(req)}`;
        let p = cache.get(ck);
        if (!p) {
          const c = client;
          use(key);
          p = (async () => {
            const t = process.hrtime.bigint();
            const res = await c.rank(req);
            return { res, ms: Number(process.hrtime.bigint() - t) / 1e6 };
          })();
          cache.set(ck, p);
        }
        const { res, ms } = await p;
        if (spec.name === 'engine') engineResponse = res;
        const ids = spec.pick ? spec.pick(res) : res.items.map((it) => it.item_id);
        const rows = toRows(ids);
        precisionLists.get(spec.name)?.push(rows);
        const pre = res.stages.find((x) => x.stage === 'prerank');
        const ret = res.stages.find((x) => x.stage === 'retrieval');
        const m = pre ? /strong model on (\d+) of (\d+)/.exec(pre.note) : null;
        out.push({
          scores: score(rows),
          segment: info.segment,
          surface,
          ...objScores(rows),
          prerankMs: pre ? pre.millis : null,
          retrievalMs: ret ? ret.millis : null,
          requestMs: ms,
          strongFraction: m ? Number(m[1]) / Math.max(1, Number(m[2])) : pre ? 0 : null,
          newFlags: Uint8Array.from(rows, (r) => isNew[r]),
          explorationShare: res.items.length > 0 ? countWhere(res.items, (it) => it.exploration) / res.items.length : 0,
        });
      }

      // Retrieval recall: the index search vs the exact top K for the user
      // embedding the engine computes (a cold user has none: popular items).
      const now = engine.now();
      const emb = (await tower.embed(engine.store.snapshot(info.id, now), engine.catalog, now)).embedding;
      const trueTop = Array.from(topK(utility, topN));
      if (!emb.some((v) => v !== 0)) {
        coldUsers++;
        retr.cold.push(recallOfTop([...popularK, ...freshPicks(popularK, null)], trueTop, topN));
      } else {
        if (engineResponse) {
          const checked = engineResponse.items.filter((it) => it.stage_scores.some((x) => x.stage === 'light'));
          const rows = Int32Array.from(checked, (it) => rowOf.get(it.item_id)!);
          const dots = scoreRows(bundle.embeddings, dim, rows, emb);
          checked.forEach((it, i) => {
            const light = it.stage_scores.find((x) => x.stage === 'light')!.score;
            const d = Math.abs(light - (dots[i] + biasWeight * bundle.bias[rows[i]]));
            if (d > embCheck.maxAbsDiff) embCheck.maxAbsDiff = d;
          });
          embCheck.items += checked.length;
        }
        const dots = scoreRows(bundle.embeddings, dim, allRows, emb);
        const exact = Array.from(topK(dots, K));
        let defaultGot: number[] | null = null;
        for (let g = 0; g < grid.length; g++) {
          const t = process.hrtime.bigint();
          const hits = await bundle.index.search(emb, { k: K, nprobe: grid[g].nprobe ?? idx.nprobe, efSearch: grid[g].efSearch ?? idx.efSearch });
          ann[g].ms.push(Number(process.hrtime.bigint() - t) / 1e6);
          const got = idsToRows(hits.ids);
          ann[g].recallK.push(recallAt(got, exact, K));
          ann[g].recall50.push(recallAt(got, exact, Math.min(50, K)));
          ann[g].truth.push(recallOfTop(got, trueTop, topN));
          if (g === defaultG) defaultGot = got;
        }
        // Retrieval against the truth at the default setting (searched here when the grid lacks it).
        defaultGot ??= idsToRows((await bundle.index.search(emb, { k: K, nprobe: idx.nprobe, efSearch: idx.efSearch })).ids);
        retr.index.push(recallOfTop(defaultGot, trueTop, topN));
        retr.plusFresh.push(recallOfTop([...defaultGot, ...freshPicks(defaultGot, emb)], trueTop, topN));
        retr.exact.push(recallOfTop(exact, trueTop, topN));
        retr.exactRef.push(recallOfTop(refK === K ? exact : topK(dots, refK), trueTop, topN));
        retr.surface.push(surface);
      }
      if ((s + 1) % 25 === 0 || s + 1 === sampled.length) log(`${s + 1}/${sampled.length} users`);
    }

    // Reactivity, last: it changes the users' state.
    use('default');
    const reactivity = await measureReactivity(client, bundle, truth.users.info, sampled, cfg, none, log);

    const agg = (xs: Sample[], f: (x: Sample) => number | null) => {
      const v = xs.map(f).filter((x): x is number => x !== null);
      return v.length === 0 ? null : mean(v);
    };
    const configs: Record<string, ConfigResult> = {};
    for (const spec of specs) {
      const xs = samples.get(spec.name)!;
      const breakdown = (key: (x: Sample) => string, order: string[]) => {
        const g10 = groupMeans(xs.map((x) => x.scores.ndcg10), xs.map(key), order);
        const g50 = groupMeans(xs.map((x) => x.scores.ndcg50), xs.map(key), order);
        return Object.fromEntries(Object.keys(g10).map((k) => [k, { users: g10[k].n, ndcg10: g10[k].mean, ndcg50: g50[k].mean }]));
      };
      const bySegment: ConfigResult['bySegment'] = breakdown((x) => x.segment, Object.keys(segCount));
      const bySurface: ConfigResult['bySurface'] = breakdown((x) => x.surface, EVAL_SURFACES.filter((v) => v in surfCount));
      const byObjective: ConfigResult['byObjective'] = Object.fromEntries(
        objNames.map((o, j) => [
          o,
          { ndcg10: mean(xs.map((x) => x.objNdcg10[j])), ndcg50: mean(xs.map((x) => x.objNdcg50[j])), ndcg50Ci: meanInterval(xs.map((x) => x.objNdcg50[j])) },
        ]),
      );
      configs[spec.name] = {
        name: spec.name,
        description: spec.description,
        options: spec.options === null ? null : { ...spec.options },
        engine: spec.options === null ? 'none' : spec.engine ?? 'default',
        requests: xs.length,
        ndcg10: mean(xs.map((x) => x.scores.ndcg10)),
        ndcg50: mean(xs.map((x) => x.scores.ndcg50)),
        ndcg10Ci: meanInterval(xs.map((x) => x.scores.ndcg10)),
        ndcg50Ci: meanInterval(xs.map((x) => x.scores.ndcg50)),
        recall50: mean(xs.map((x) => x.scores.recall50)),
        distinctCategories20: mean(xs.map((x) => x.scores.distinctCategories20)),
        distinctBrands20: mean(xs.map((x) => x.scores.distinctBrands20)),
        maxBrandRun: mean(xs.map((x) => x.scores.maxBrandRun)),
        length: mean(xs.map((x) => x.scores.length)),
        newShare: mean(xs.map((x) => x.scores.newShare)),
        newRecall50: mean(xs.map((x) => x.scores.newRecall50)),
        prerankMs: agg(xs, (x) => x.prerankMs),
        retrievalMs: agg(xs, (x) => x.retrievalMs),
        requestMs: agg(xs, (x) => x.requestMs),
        strongFraction: agg(xs, (x) => x.strongFraction),
        explorationShare: agg(xs, (x) => x.explorationShare),
        bySegment,
        bySurface,
        byObjective,
      };
    }
    const perRequest = (name: string) => samples.get(name)!.map((x) => x.scores.ndcg50);

    const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
    const eng = configs.engine.ndcg50;
    const vsPop = ratio(eng, configs.popularity.ndcg50);
    const vsRef = ratio(eng, configs['no-shortcuts'].ndcg50);
    const iters = cfg.bootstrapIters ?? 1000;
    const boot = new Rng((cfg.seed ^ 0x5eed) >>> 0);
    const bPop = bootstrapRatio(perRequest('engine'), perRequest('popularity'), () => boot.next(), iters);
    const bRef = bootstrapRatio(perRequest('engine'), perRequest('no-shortcuts'), () => boot.next(), iters);
    const curve = cfg.budgets.map((b) => {
      const c = configs[`hap-${b}`];
      return { budget: b, ndcg10: c.ndcg10, ndcg50: c.ndcg50, prerankMs: c.prerankMs ?? 0, strongFraction: c.strongFraction ?? 0 };
    });
    const at = (b: number) => curve.find((c) => c.budget === b);
    const c20 = at(0.2);
    const c100 = at(1);
    const hapNdcg = c20 && c100 ? ratio(c20.ndcg50, c100.ndcg50) : null;
    const hapTime = c20 && c100 ? ratio(c20.prerankMs, c100.prerankMs) : null;
    const routingRows = routingBudgets.map((b) => ({
      budget: b,
      uncertaintyNdcg50: configs[`hap-${b}`].ndcg50,
      topNdcg50: configs[`hap-top-${b}`].ndcg50,
      difference: pairedDifference(perRequest(`hap-${b}`), perRequest(`hap-top-${b}`)),
      uncertaintyPrerankMs: configs[`hap-${b}`].prerankMs,
      topPrerankMs: configs[`hap-top-${b}`].prerankMs,
    }));
    const r20 = routingRows.find((r) => r.budget === 0.2);
    const precisionRun = (name: string): PrecisionRun => ({
      ndcg10: samples.get(name)!.map((x) => x.scores.ndcg10),
      ndcg50: samples.get(name)!.map((x) => x.scores.ndcg50),
      lists: precisionLists.get(name)!,
    });
    const precisionBoot = new Rng((cfg.seed ^ 0xb16f) >>> 0);
    const precision =
      precisionRef === null
        ? null
        : precisionSection({
            cpu: onednnCpu,
            auto: { ranker: engine.pool.precision.ranker.precision, preranker: engine.pool.precision.preranker.precision },
            defaultEngine: { ranker: engine.pool.precision.ranker.precision, preranker: engine.pool.precision.preranker.precision },
            reference: { engine: precisionRef, run: precisionRun('precision-fp32-reference') },
            compared: precisionEngines.map((x) => ({ precision: x.precision, engine: x.engine, run: precisionRun(`precision-${x.precision}`) })),
            random: () => precisionBoot.next(),
            iters,
          });
    const divSpecs = specs.filter((s) => s.name === 'div-none' || /^(mmr|dpp)-/.test(s.name));
    const divPoints = divSpecs.map((s) => {
      const c = configs[s.name];
      const [method, l] = s.name === 'div-none' ? ['none', null] : s.name.split('-');
      return {
        method,
        lambda: l === null ? null : Number(l),
        ndcg10: c.ndcg10,
        distinctCategories20: c.distinctCategories20,
        distinctBrands20: c.distinctBrands20,
        maxBrandRun: c.maxBrandRun,
        pareto: false,
      };
    });
    paretoFront(divPoints.map((p) => ({ a: p.ndcg10, b: p.distinctCategories20 }))).forEach((f, i) => (divPoints[i].pareto = f));

    const annCurve: AnnPoint[] = grid.map((s, g) => {
      const c = configs[annName(s)];
      return {
        label: searchLabel(s),
        nprobe: s.nprobe ?? null,
        efSearch: s.efSearch ?? null,
        isDefault: isDefaultSetting(s),
        recallAtK: meanInterval(ann[g].recallK),
        recallAt50: meanInterval(ann[g].recall50),
        truthRecall: meanInterval(ann[g].truth),
        searchMs: mean(ann[g].ms),
        ndcg50: c.ndcg50Ci,
        retrievalMs: c.retrievalMs,
      };
    });
    const defaultRecall = annCurve.find((p) => p.isDefault)?.recallAtK.mean ?? null;

    const explorationRows: ExplorationRow[] = explore.map(({ e, k }) => {
      const name = `explore-e${e}-k${k}`;
      const pos = shareByPosition(samples.get(name)!.map((x) => x.newFlags), NUM_RESULTS);
      const c = configs[name];
      return {
        name,
        epsilon: e,
        start: k,
        ndcg50: c.ndcg50Ci,
        newShare: c.newShare,
        newRecall50: c.newRecall50,
        explorationShare: c.explorationShare ?? 0,
        newByPosition: pos.share,
        newByBucket: POSITION_BUCKETS.map(([a, b]) => ({ positions: `${a + 1}-${b}`, share: pooledShare(pos, a, b) })),
      };
    });

    return {
      command: cfg.command,
      date: new Date().toISOString(),
      commit: git(['rev-parse', 'HEAD']) ?? 'unknown',
      uncommittedChanges,
      world: {
        root: cfg.root,
        items: n,
        users: truth.users.n,
        dim,
        seed: cfg.world.seed,
        index: { factory: idx.factory, nprobe: idx.nprobe ?? null, efSearch: idx.efSearch ?? null },
      },
      sample: { users: sampled.length, segments: segCount, surfaces: surfCount, seed: cfg.seed },
      numResults: NUM_RESULTS,
      defaults: DEFAULT_RANK,
      oracleCheck: {
        ndcg10: mean(oracleScores.map((x) => x.ndcg10)),
        ndcg50: mean(oracleScores.map((x) => x.ndcg50)),
        recall50: mean(oracleScores.map((x) => x.recall50)),
        distinctCategories20: mean(oracleScores.map((x) => x.distinctCategories20)),
        distinctBrands20: mean(oracleScores.map((x) => x.distinctBrands20)),
        maxBrandRun: mean(oracleScores.map((x) => x.maxBrandRun)),
        newShare: mean(oracleScores.map((x) => x.newShare)),
        newRecall50: mean(oracleScores.map((x) => x.newRecall50)),
      },
      configs,
      objectives: {
        note:
          `per objective o of the bundle (${objNames.join(', ')}): NDCG with the true probability P(o) of each listed item as the gain, against the oracle ranking of all items by P(o) ` +
          '(for the same user, surface and device); the weighted utility sum_o w_o P(o) stays the headline. Every configuration is scored; the weighted oracle row is the top 50 by weighted utility',
        names: objNames,
        weightedOracle: Object.fromEntries(
          objNames.map((o, j) => [o, { ndcg10: mean(weightedOracleObj.n10.map((v) => v[j])), ndcg50: mean(weightedOracleObj.n50.map((v) => v[j])) }]),
        ),
        selfCheckNdcg50: mean(objSelf),
      },
      retrieval: {
        note:
          `of each user's true top ${topN} items (by true weighted utility for the request's surface and device), the share among the retrieved candidates. ` +
          `Warm users: the K = ${K} rows of the index search at the bundle's default setting for the engine's user embedding (computed in the evaluator as for the ANN curve: the API does not return the candidates), ` +
          `then with the fresh source's picks added (up to ${base.freshKeep} of the ${base.freshPool} newest rows, by <embedding, item>), as the retrieval stage does; ` +
          `beside them the exact top ${K} and top ${refK} (the no-shortcuts K) by inner product. Cold users (zero embedding): the popular top ${K} plus fresh picks by bias`,
        trueTopN: topN,
        k: K,
        freshKeep: base.freshKeep,
        warmUsers: retr.index.length,
        coldUsers,
        index: meanInterval(retr.index),
        indexPlusFresh: meanInterval(retr.plusFresh),
        exact: meanInterval(retr.exact),
        exactReference: { k: refK, recall: meanInterval(retr.exactRef) },
        coldPopularPlusFresh: retr.cold.length > 0 ? meanInterval(retr.cold) : null,
        indexBySurface: (() => {
          const g = groupMeans(retr.index, retr.surface, EVAL_SURFACES.filter((v) => v in surfCount));
          return Object.fromEntries(Object.entries(g).map(([k, v]) => [k, { users: v.n, recall: v.mean }]));
        })(),
      },
      headline: {
        engineNdcg50: eng,
        popularityNdcg50: configs.popularity.ndcg50,
        noShortcutsNdcg50: configs['no-shortcuts'].ndcg50,
        twoTowerNdcg50: configs['two-tower'].ndcg50,
        vsPopularity: vsPop,
        vsNoShortcuts: vsRef,
        ci: {
          engineNdcg50: configs.engine.ndcg50Ci,
          popularityNdcg50: configs.popularity.ndcg50Ci,
          noShortcutsNdcg50: configs['no-shortcuts'].ndcg50Ci,
          twoTowerNdcg50: configs['two-tower'].ndcg50Ci,
          vsPopularity: { lo: bPop.lo, hi: bPop.hi },
          vsNoShortcuts: { lo: bRef.lo, hi: bRef.hi },
          bootstrapIters: iters,
        },
        targets: { vsPopularityAtLeast: 2, vsNoShortcutsAtLeast: 0.95, vsPopularityMet: vsPop >= 2, vsNoShortcutsMet: vsRef >= 0.95 },
      },
      ann: {
        note:
          `recall@${K}: the index search (the bundle's index, each setting) vs the exact top ${K} by inner product over all ${n} rows (native scoreRows + topK), ` +
          'for the user embedding of the bundle\'s user tower over the user\'s stored actions (what the engine computes; checked against the light scores the API returns); ' +
          'cold users (no actions, zero embedding: the engine serves popular items) are skipped. NDCG@50: the final list through the API from an engine with that setting, default knobs, exploration NONE',
        k: K,
        usersMeasured: sampled.length - coldUsers,
        coldUsersSkipped: coldUsers,
        embeddingCheck: embCheck,
        curve: annCurve,
        defaultRecallAtK: defaultRecall,
        targets: { recallAtLeast: 0.95, onWorldItems: 1_000_000, thisWorldItems: n, met: defaultRecall === null || n < 1_000_000 ? null : defaultRecall >= 0.95 },
      },
      hap: {
        note: 'default knobs (DPP diversity) with exploration NONE; heavy_budget varied; prerank ms = the prerank stage time from the debug stage reports, mean over requests',
        curve,
        ratioNdcg50At20vs100: hapNdcg,
        ratioPrerankMsAt20vs100: hapTime,
        routing: {
          note: "the same requests to the default engine (HAP: the strong pre-ranker scores the B candidates nearest the keep boundary) and to an engine with hapRouting 'top' (it scores the top B by light score); difference = HAP - top, paired per request, mean and 95% interval",
          rows: routingRows,
        },
        targets: {
          ndcgRatioAtLeast: 0.99,
          timeRatioAtMost: 0.35,
          met: hapNdcg === null || hapTime === null ? null : hapNdcg >= 0.99 && hapTime <= 0.35,
          beatsTopAt20: r20 ? r20.difference.mean > 0 : null,
          beatsTopAt20Significant: r20 ? r20.difference.lo > 0 : null,
        },
      },
      diversity: {
        note: 'default knobs with exploration NONE; NDCG@10 vs distinct categories in the top 20; pareto = not dominated on (NDCG@10, distinct categories)',
        points: divPoints,
      },
      exploration: {
        note:
          `default knobs with epsilon-greedy exploration; "new" = created within the bundle's newItemDays (${bundle.manifest.features.newItemDays}) before the engine's clock (newItemMask); ` +
          'new recall = share of the user\'s 50 best new items (by true utility) that the list contains',
        newItemDays: bundle.manifest.features.newItemDays,
        catalogNewShare: newRows.length / Math.max(1, n),
        oracleNewShare: mean(oracleScores.map((x) => x.newShare)),
        rows: explorationRows,
      },
      reactivity,
      precision,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    client?.close();
    await service.stop(1000);
    for (const e of engines.values()) await e.close();
    await tower.close();
  }
}

/**
 * For a seeded sub-sample of the users: Rank (home surface, default knobs,
 * exploration NONE), then RecordEvents with a burst of clicks on random items
 * of a category the user neither favours (truth) nor has in that top 20, and
 * carts on the first few of them, then the same Rank again.
 */
async function measureReactivity(
  client: RankingClient,
  bundle: { items: { n: number; ids: string[]; category: Int32Array; categoryNames: string[] } },
  users: { id: string; device: Device; categories: string[] }[],
  sampled: number[],
  cfg: EvalConfig,
  none: StageOptions,
  log: (m: string) => void,
): Promise<EvalReport['reactivity']> {
  const clicks = cfg.reactivityClicks ?? 8;
  const carts = Math.min(clicks, cfg.reactivityCarts ?? 2);
  const rng = new Rng((cfg.seed * 7919 + 17) >>> 0);
  const chosen = shuffle([...sampled], rng).slice(0, Math.min(cfg.reactivityUsers ?? 100, sampled.length));
  const byCategory = new Map<number, number[]>();
  for (let r = 0; r < bundle.items.n; r++) {
    const c = bundle.items.category[r];
    let l = byCategory.get(c);
    if (!l) byCategory.set(c, (l = []));
    l.push(r);
  }
  const before: number[] = [];
  const after: number[] = [];
  const afterOther: number[] = [];
  let sent = 0;
  let accepted = 0;
  for (const u of chosen) {
    const info = users[u];
    const req: RankRequest = {
      user_id: info.id,
      context: { surface: 'SURFACE_HOME', device: WIRE_DEVICE[info.device] },
      num_results: NUM_RESULTS,
      options: { ...none, seed: (cfg.seed * 1_000_003 + u) >>> 0 || 1 },
    };
    const first = await client.rank(req);
    const shown = new Set(first.items.slice(0, 20).map((it) => it.category));
    const fav = new Set(info.categories);
    const names = bundle.items.categoryNames;
    const enough = (c: number) => (byCategory.get(c)?.length ?? 0) >= clicks;
    let options = names.map((_, c) => c).filter((c) => enough(c) && !fav.has(names[c]) && !shown.has(names[c]));
    if (options.length === 0) options = names.map((_, c) => c).filter((c) => enough(c) && !fav.has(names[c]));
    if (options.length === 0) continue;
    const target = options[Math.floor(rng.next() * options.length)];
    const pool = byCategory.get(target)!.slice();
    const picked: number[] = [];
    for (let i = 0; i < clicks; i++) {
      const j = i + Math.floor(rng.next() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
      picked.push(pool[i]);
    }
    const ev = (r: number, type: ActionType) => ({ user_id: info.id, item_id: bundle.items.ids[r], type, timestamp_ms: 0 });
    const events = [...picked.map((r) => ev(r, 'ACTION_TYPE_CLICK')), ...picked.slice(0, carts).map((r) => ev(r, 'ACTION_TYPE_CART'))];
    const ack = await client.recordEvents({ events });
    sent += events.length;
    accepted += ack.accepted;
    const second = await client.rank(req);
    const name = names[target];
    const clickedIds = new Set(picked.map((r) => bundle.items.ids[r]));
    before.push(countWhere(first.items, (it) => it.category === name, 20));
    after.push(countWhere(second.items, (it) => it.category === name, 20));
    afterOther.push(countWhere(second.items, (it) => it.category === name && !clickedIds.has(it.item_id), 20));
  }
  log(`reactivity: ${before.length} users`);
  return {
    note:
      `home surface, default knobs, exploration NONE; per user: Rank, then RecordEvents with ${clicks} clicks on random items of one category that the user neither favours (ground truth) ` +
      `nor has in that top 20 (any unfavoured category when none is left), then carts on ${carts} of them (timestamps: now), then the same Rank; counts are items of that category in the top 20`,
    users: before.length,
    clicks,
    carts,
    before: meanInterval(before),
    after: meanInterval(after),
    afterOtherItems: meanInterval(afterOther),
    usersWithAnyBefore: before.length > 0 ? countWhere(before, (x) => x > 0) / before.length : 0,
    usersWithAnyAfter: after.length > 0 ? countWhere(after, (x) => x > 0) / after.length : 0,
    eventsSent: sent,
    eventsAccepted: accepted,
  };
}
