// The evaluator's configuration, the shape of its report and the constants
// the report's sections share.
import type { StageOptions } from '../../src/client';
import type { DcnPrecision } from '../../src/native/dcn-precision';
import type { Surface } from '../../src/models/schema';
import type { DEFAULT_RANK } from '../../src/pipeline/options';
import type { WorldConfig } from '../world/schema';
import type { Interval } from './metrics';
import type { LoopReport } from './loop';
import type { PrecisionSection } from './precision';

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
  /** The bundle evaluated (default: the world's own; e.g. one trained from logs, same items). */
  bundle?: string;
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
  /** Users of the several-interests section (default 200 with two or more interest categories, as many with one). */
  interestUsers?: number;
  /** Calibration weights swept in that section (default DEFAULT_CALIBRATIONS of interests.ts). */
  calibrations?: number[];
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

/** The stage options of a request without exploration (each request spreads them into its own). */
export const NO_EXPLORATION: StageOptions = { exploration: 'EXPLORATION_METHOD_NONE' };

export interface SearchSetting {
  /** IVF lists probed / HNSW candidate list size; unset: the index's own default. */
  nprobe?: number;
  efSearch?: number;
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
  world: { root: string; bundle: string; items: number; users: number; dim: number; seed: number; index: { factory: string; nprobe: number | null; efSearch: number | null } };
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
  /** Users with several interests: pages before and after, the calibration sweep (interests.ts). */
  interests: InterestsSection;
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
  /** The learning loop on simulated logs (--loop), also written to loop/ beside the report. */
  loop?: LoopReport;
}

/** Interest metrics of a set of top-20 pages (interest-metrics.ts). */
export interface InterestPages {
  users: number;
  coverage: number;
  largestShare: number;
  singleCategoryPages: number;
  singleCategoryShare: number;
  categories: number;
  miscalibration: number;
}

export interface InterestsSection {
  note: string;
  /** Per diversity method, the users with several interests before and after. */
  table: ({ diversity: string; when: 'before' | 'after' } & InterestPages)[];
  /** What their histories can show: true interest categories with any weighted action; users with one category in it. */
  history: { users: number; coverage: number; oneCategoryUsers: number };
  /** Per calibration weight (default diversity): their pages and NDCG@50. */
  sweep: ({ calibration: number; ndcg50: number } & InterestPages)[];
  /** NDCG@50 and pages before and after, for the users with several interests and those with one. */
  several: { users: number; before: number; after: number; beforePages: InterestPages; afterPages: InterestPages };
  one: { users: number; before: number; after: number; beforePages: InterestPages; afterPages: InterestPages };
  /** NDCG@50 of the main sample (every segment and surface): the defaults against one vector. */
  allUsers: { engine: number; oneVector: number; ratio: number };
}
