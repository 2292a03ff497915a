// Original file: proto/ranking/v1/ranking.proto

import type { ObjectiveScore as _ranking_v1_ObjectiveScore, ObjectiveScore__Output as _ranking_v1_ObjectiveScore__Output } from '../../ranking/v1/ObjectiveScore';
import type { Provenance as _ranking_v1_Provenance, Provenance__Output as _ranking_v1_Provenance__Output } from '../../ranking/v1/Provenance';
import type { StageScore as _ranking_v1_StageScore, StageScore__Output as _ranking_v1_StageScore__Output } from '../../ranking/v1/StageScore';

export interface RankedItem {
  'item_id'?: (string);
  'score'?: (number | string);
  'objectives'?: (_ranking_v1_ObjectiveScore)[];
  'provenance'?: (_ranking_v1_Provenance);
  /**
   * Whether the strong pre-rank model scored it.
   */
  'strong_scored'?: (boolean);
  /**
   * Whether it was placed by exploration.
   */
  'exploration'?: (boolean);
  'brand'?: (string);
  'category'?: (string);
  /**
   * Debug only: the score each stage computed for the item, higher is
   * better: "retrieval" (the search's inner product, or minus the L2
   * distance; the popularity bias for a cold user; the light score for a
   * fresh item; absent for caller-provided candidates), "light" (the light
   * pre-rank score; for a user with several interests, the best over the
   * interests' vectors, the user vector being the first), "strong"
   * (the strong pre-ranker's logit, for the items it scored), "prerank"
   * (the merged pre-rank score; a fresh item passed through the cut keeps
   * its light score), "ensemble" (the weighted sum of the objective
   * probabilities) and "policy" (the final score). The ranker has no
   * entry: its output is `objectives`.
   */
  'stage_scores'?: (_ranking_v1_StageScore)[];
  /**
   * Debug only: which of the user's interests retrieved the item, 1-based
   * (largest interest first); 0 when the user has one interest vector or
   * the item came from another source (fresh items, popular items,
   * caller-provided candidates).
   */
  'interest'?: (number);
}

export interface RankedItem__Output {
  'item_id': (string);
  'score': (number);
  'objectives': (_ranking_v1_ObjectiveScore__Output)[];
  'provenance': (_ranking_v1_Provenance__Output);
  /**
   * Whether the strong pre-rank model scored it.
   */
  'strong_scored': (boolean);
  /**
   * Whether it was placed by exploration.
   */
  'exploration': (boolean);
  'brand': (string);
  'category': (string);
  /**
   * Debug only: the score each stage computed for the item, higher is
   * better: "retrieval" (the search's inner product, or minus the L2
   * distance; the popularity bias for a cold user; the light score for a
   * fresh item; absent for caller-provided candidates), "light" (the light
   * pre-rank score; for a user with several interests, the best over the
   * interests' vectors, the user vector being the first), "strong"
   * (the strong pre-ranker's logit, for the items it scored), "prerank"
   * (the merged pre-rank score; a fresh item passed through the cut keeps
   * its light score), "ensemble" (the weighted sum of the objective
   * probabilities) and "policy" (the final score). The ranker has no
   * entry: its output is `objectives`.
   */
  'stage_scores': (_ranking_v1_StageScore__Output)[];
  /**
   * Debug only: which of the user's interests retrieved the item, 1-based
   * (largest interest first); 0 when the user has one interest vector or
   * the item came from another source (fresh items, popular items,
   * caller-provided candidates).
   */
  'interest': (number);
}
