// Original file: proto/ranking/v1/ranking.proto

import type { RankedItem as _ranking_v1_RankedItem, RankedItem__Output as _ranking_v1_RankedItem__Output } from '../../ranking/v1/RankedItem';
import type { StageDebug as _ranking_v1_StageDebug, StageDebug__Output as _ranking_v1_StageDebug__Output } from '../../ranking/v1/StageDebug';
import type { RemovedCandidate as _ranking_v1_RemovedCandidate, RemovedCandidate__Output as _ranking_v1_RemovedCandidate__Output } from '../../ranking/v1/RemovedCandidate';

export interface RankResponse {
  'items'?: (_ranking_v1_RankedItem)[];
  'bundle_version'?: (string);
  /**
   * Ids in candidate_ids that the catalog does not know.
   */
  'unknown_candidate_ids'?: (string)[];
  /**
   * True when the cascade cut a corner: the deadline forced it (smaller_k,
   * no_strong_prerank, no_diversity, no_rank), or the user tower gave a
   * value that is not finite and the user was served as a cold user
   * (user_embedding_not_finite).
   */
  'degraded'?: (boolean);
  'degradations'?: (string)[];
  /**
   * With debug: per-stage timings and counts, and removed candidates.
   */
  'stages'?: (_ranking_v1_StageDebug)[];
  'removed'?: (_ranking_v1_RemovedCandidate)[];
  'request_id'?: (string);
  /**
   * The rank profile that served the request, and under an A/B experiment
   * the experiment and the user's bucket (empty otherwise).
   */
  'profile'?: (string);
  'experiment'?: (string);
  'bucket'?: (string);
}

export interface RankResponse__Output {
  'items': (_ranking_v1_RankedItem__Output)[];
  'bundle_version': (string);
  /**
   * Ids in candidate_ids that the catalog does not know.
   */
  'unknown_candidate_ids': (string)[];
  /**
   * True when the cascade cut a corner: the deadline forced it (smaller_k,
   * no_strong_prerank, no_diversity, no_rank), or the user tower gave a
   * value that is not finite and the user was served as a cold user
   * (user_embedding_not_finite).
   */
  'degraded': (boolean);
  'degradations': (string)[];
  /**
   * With debug: per-stage timings and counts, and removed candidates.
   */
  'stages': (_ranking_v1_StageDebug__Output)[];
  'removed': (_ranking_v1_RemovedCandidate__Output)[];
  'request_id': (string);
  /**
   * The rank profile that served the request, and under an A/B experiment
   * the experiment and the user's bucket (empty otherwise).
   */
  'profile': (string);
  'experiment': (string);
  'bucket': (string);
}
