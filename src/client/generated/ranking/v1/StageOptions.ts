// Original file: proto/ranking/v1/ranking.proto

import type { DiversityMethod as _ranking_v1_DiversityMethod, DiversityMethod__Output as _ranking_v1_DiversityMethod__Output } from '../../ranking/v1/DiversityMethod';
import type { ExplorationMethod as _ranking_v1_ExplorationMethod, ExplorationMethod__Output as _ranking_v1_ExplorationMethod__Output } from '../../ranking/v1/ExplorationMethod';
import type { EnsembleMethod as _ranking_v1_EnsembleMethod, EnsembleMethod__Output as _ranking_v1_EnsembleMethod__Output } from '../../ranking/v1/EnsembleMethod';
import type { Long } from '@grpc/proto-loader';

export interface StageOptions {
  /**
   * Retrieval size K (0 = default).
   */
  'retrieval_k'?: (number);
  /**
   * Candidates kept by the pre-ranker, M (0 = default).
   */
  'prerank_keep'?: (number);
  /**
   * Share of the K candidates the strong pre-ranker may score, in [0, 1]
   * (unset = default).
   */
  'heavy_budget'?: (number | string);
  'diversity'?: (_ranking_v1_DiversityMethod);
  /**
   * Relevance/diversity trade-off in [0, 1] (MMR lambda; for DPP the
   * relevance exponent is derived from it). Unset = default.
   */
  'diversity_lambda'?: (number | string);
  /**
   * Longest allowed run of same-brand items on the returned page,
   * exploration picks included (0 = default, 1 = no two alike). When the
   * candidates cannot satisfy it, the page is served as close as they allow,
   * the policy stage's debug note says so and the metric
   * policy_rule_unmet_total{rule="brand_run"} counts it.
   */
  'brand_run_limit'?: (number);
  'exploration'?: (_ranking_v1_ExplorationMethod);
  /**
   * Probability of an exploration pick per position from exploration_start.
   */
  'exploration_epsilon'?: (number | string);
  /**
   * 1-based position from which exploration may place new items (0 = default).
   */
  'exploration_start'?: (number);
  /**
   * Item ids never to return.
   */
  'exclude_item_ids'?: (string)[];
  /**
   * Seed for the exploration draws (0 = random); fixes the result for tests.
   */
  'seed'?: (number | string | Long);
  /**
   * Most interest vectors per user (0 = default, 1 = one vector). A user
   * whose recent actions cluster into several interests gets one search per
   * interest, K split by their shares, and a page calibrated to their
   * category mix.
   */
  'max_interests'?: (number);
  /**
   * Calibration weight in [0, 1]: the page's category mix follows the
   * user's interests ((1 - w) utility - w KL(p || q)). 0 = off; unset =
   * default. Only users with several interests are affected.
   */
  'calibration'?: (number | string);
  /**
   * How the objective probabilities become one score (unset = default).
   */
  'ensemble'?: (_ranking_v1_EnsembleMethod);
  '_heavy_budget'?: "heavy_budget";
  '_diversity_lambda'?: "diversity_lambda";
  '_exploration_epsilon'?: "exploration_epsilon";
  '_calibration'?: "calibration";
}

export interface StageOptions__Output {
  /**
   * Retrieval size K (0 = default).
   */
  'retrieval_k': (number);
  /**
   * Candidates kept by the pre-ranker, M (0 = default).
   */
  'prerank_keep': (number);
  /**
   * Share of the K candidates the strong pre-ranker may score, in [0, 1]
   * (unset = default).
   */
  'heavy_budget'?: (number);
  'diversity': (_ranking_v1_DiversityMethod__Output);
  /**
   * Relevance/diversity trade-off in [0, 1] (MMR lambda; for DPP the
   * relevance exponent is derived from it). Unset = default.
   */
  'diversity_lambda'?: (number);
  /**
   * Longest allowed run of same-brand items on the returned page,
   * exploration picks included (0 = default, 1 = no two alike). When the
   * candidates cannot satisfy it, the page is served as close as they allow,
   * the policy stage's debug note says so and the metric
   * policy_rule_unmet_total{rule="brand_run"} counts it.
   */
  'brand_run_limit': (number);
  'exploration': (_ranking_v1_ExplorationMethod__Output);
  /**
   * Probability of an exploration pick per position from exploration_start.
   */
  'exploration_epsilon'?: (number);
  /**
   * 1-based position from which exploration may place new items (0 = default).
   */
  'exploration_start': (number);
  /**
   * Item ids never to return.
   */
  'exclude_item_ids': (string)[];
  /**
   * Seed for the exploration draws (0 = random); fixes the result for tests.
   */
  'seed': (number);
  /**
   * Most interest vectors per user (0 = default, 1 = one vector). A user
   * whose recent actions cluster into several interests gets one search per
   * interest, K split by their shares, and a page calibrated to their
   * category mix.
   */
  'max_interests': (number);
  /**
   * Calibration weight in [0, 1]: the page's category mix follows the
   * user's interests ((1 - w) utility - w KL(p || q)). 0 = off; unset =
   * default. Only users with several interests are affected.
   */
  'calibration'?: (number);
  /**
   * How the objective probabilities become one score (unset = default).
   */
  'ensemble': (_ranking_v1_EnsembleMethod__Output);
  '_heavy_budget'?: "heavy_budget";
  '_diversity_lambda'?: "diversity_lambda";
  '_exploration_epsilon'?: "exploration_epsilon";
  '_calibration'?: "calibration";
}
