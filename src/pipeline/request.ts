// A validated Rank request as the engine sees it (the server turns the wire
// message into this, resolving ids to catalog rows), and the result.
import type { Device } from '../models/schema';
import type { ProvenanceCode } from './types';
import type { ActionCode } from '../models/schema';

export type DiversityMethod = 'none' | 'mmr' | 'dpp';
export type ExplorationMethod = 'none' | 'epsilon-greedy' | 'thompson';
/** How the objectives become one score: the weighted sum, or the bundle's learned ensemble. */
export type EnsembleMethod = 'weighted' | 'learned';

export interface RankOptions {
  retrievalK: number;
  prerankKeep: number;
  /** Share of the retrieved candidates the strong pre-ranker may score. */
  heavyBudget: number;
  diversity: DiversityMethod;
  diversityLambda: number;
  brandRunLimit: number;
  /** Most interest vectors a user gets for retrieval and calibration (1: the tower's one vector). */
  maxInterests: number;
  /** Calibration weight lambda in [0, 1]: how much the page's category mix follows the user's interests (0: off). */
  calibration: number;
  exploration: ExplorationMethod;
  epsilon: number;
  ensemble: EnsembleMethod;
  /** 1-based position from which exploration may place new items. */
  explorationStart: number;
  /** Rows never to return. */
  exclude: ReadonlySet<number>;
  /** Seed of the exploration draws (0: random). */
  seed: number;
  /** Impressions newer than this hide an item (default: the engine's seenTtlMs). */
  seenTtlMs?: number;
  /** Purchases newer than this move an item to the end of the page (default: the engine's purchaseWindowMs). */
  purchaseWindowMs?: number;
  /** Stages left out (each must have a stand-in: Stage.skip). */
  skipStages?: ReadonlySet<string>;
}

/** The options a request may leave unset: a rank profile's values, or the built-in defaults. */
export type RankDefaults = Omit<RankOptions, 'exclude' | 'seed' | 'seenTtlMs' | 'purchaseWindowMs' | 'skipStages'>;

export interface RankInput {
  requestId: string;
  userId: string;
  surface: string;
  device: Device;
  /** Category code to restrict retrieval to. */
  category?: number;
  recentActions: { row: number; action: ActionCode; ts: number }[];
  /** Re-rank mode: rank these rows instead of retrieving. */
  candidateRows?: Int32Array;
  numResults: number;
  /** One weight per objective, in the bundle's objective order. */
  weights: Float32Array;
  options: RankOptions;
  debug: boolean;
  /** Recorded in the impression log: every stage's score and the policy's propensities are kept (not returned). */
  log?: boolean;
  /** ms since the epoch after which the answer is useless (Infinity: none). */
  deadline: number;
  /** Aborted when the caller goes away. */
  signal?: AbortSignal;
}

export interface RankedRow {
  row: number;
  score: number;
  objectives: Float32Array;
  provenance: ProvenanceCode;
  strong: boolean;
  exploration: boolean;
  stageScores?: { stage: string; score: number }[];
  /** Debug only: 1-based index of the user's interest whose search retrieved the item (0: none). */
  interest?: number;
  /** Logged requests: the probability that the policy put the item at its position, given the positions before it. */
  propensity?: number;
}

export interface StageReport {
  stage: string;
  millis: number;
  candidatesIn: number;
  candidatesOut: number;
  note: string;
}

export interface RankOutput {
  items: RankedRow[];
  bundleVersion: string;
  degraded: boolean;
  degradations: string[];
  stages: StageReport[];
  removed: { row: number; stage: string; reason: string }[];
  /** Logged requests: the user part of the rankers' input (models/layout.ts), as the rankers saw it. */
  userFeatures?: Float32Array;
  /** Logged requests: the request's time on the engine's clock (the item features' "is new" is as of it). */
  now?: number;
}
