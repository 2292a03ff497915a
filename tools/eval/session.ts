// The shapes the evaluator's modules pass each other: the session (the
// world, the engines, the service's client), a configuration, and what is
// measured over the sampled users.
import type { Bundle } from '../../src/bundle/loader';
import type { RankingClient, RankResponse__Output, StageOptions } from '../../src/client';
import type { UserTower } from '../../src/models/user-tower';
import type { DcnPrecision } from '../../src/native/dcn-precision';
import type { Engine } from '../../src/pipeline/engine';
import type { EngineOptions } from '../../src/pipeline/options';
import type { WorldTruth } from '../world/truth-files';
import type { EvalConfig, ListScores, SearchSetting } from './types';

/** One configuration of the report: a list computed here or requested through the API. */
export interface Spec {
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

/** The world, the engines and the client of the service that serves them, for one run. */
export interface EvalSession {
  cfg: EvalConfig;
  log: (msg: string) => void;
  bundle: Bundle;
  truth: WorldTruth;
  /** The default engine: its user store is every engine's. */
  engine: Engine;
  /** Every engine by key ('default' first), in the order they were built. */
  engines: Map<string, Engine>;
  /** The options every engine starts from. */
  base: EngineOptions;
  /** The index search settings compared. */
  grid: SearchSetting[];
  precision: PrecisionEngines;
  /** The bundle's user tower, as the engine runs it. */
  tower: UserTower;
  client: RankingClient;
  /** Makes the service serve the engine of that key. */
  use: (key: string) => void;
}

/** A response and its client-side latency, ms. */
export interface Served {
  res: RankResponse__Output;
  ms: number;
}

/** The keys of the precision engines: the fp32 reference (null: no precision compared) and one per compared precision. */
export interface PrecisionEngines {
  reference: string | null;
  compared: { precision: DcnPrecision; engine: string }[];
}

/** What every request's truth shares: the catalog rows, which are new, and the objectives scored. */
export interface TruthFrame {
  allRows: Int32Array;
  /** 1 for the rows created within the bundle's newItemDays before the engine's clock. */
  isNew: Uint8Array;
  newRows: Int32Array;
  /** The bundle's objectives that the ground truth knows, in the bundle's order, and their columns in the truth. */
  objNames: string[];
  objCols: number[];
}

/** NDCG@10 / @50 of a list per objective (the order of TruthFrame.objNames). */
export interface ObjectiveScores {
  objNdcg10: number[];
  objNdcg50: number[];
}

/** What the index search measurements gather over the users. */
export interface SearchStats {
  /** Per setting of the grid: recall@K and @50 vs exact, recall of the true top, search ms. */
  points: { recallK: number[]; recall50: number[]; truth: number[]; ms: number[] }[];
  /** Users with no embedding (no actions: the engine serves popular items). */
  coldUsers: number;
  /** Max |light score from the API - (<embedding, item> + bias term)| over the checked items. */
  embCheck: { items: number; maxAbsDiff: number };
  retrieval: RetrievalStats;
}

/** Per warm user (and its surface), the share of the true top N among each candidate set; per cold user, the popular and fresh ones. */
export interface RetrievalStats {
  index: number[];
  plusFresh: number[];
  exact: number[];
  exactRef: number[];
  cold: number[];
  surface: string[];
}

/** One configuration's list for one request, scored. */
export interface Sample extends ObjectiveScores {
  scores: ListScores;
  segment: string;
  surface: string;
  prerankMs: number | null;
  retrievalMs: number | null;
  requestMs: number | null;
  strongFraction: number | null;
  newFlags: Uint8Array;
  explorationShare: number | null;
}

/** Everything measured over the sampled users. */
export interface Collected {
  /** The sampled users (rows of the truth's users), in order. */
  users: number[];
  frame: TruthFrame;
  /** Per configuration, a sample per user. */
  samples: Map<string, Sample[]>;
  /** The returned rows of the precision section's lists (their overlap is compared). */
  precisionLists: Map<string, number[][]>;
  oracleScores: ListScores[];
  /** The weighted-utility oracle's list scored per objective, and each objective's oracle against itself. */
  weightedOracle: ObjectiveScores[];
  objSelf: number[];
  /** Users by segment and by surface, in the order first sampled. */
  segments: Record<string, number>;
  surfaces: Record<string, number>;
  search: SearchStats;
}
