// Original file: proto/ranking/v1/ranking.proto

import type { Context as _ranking_v1_Context, Context__Output as _ranking_v1_Context__Output } from '../../ranking/v1/Context';
import type { Action as _ranking_v1_Action, Action__Output as _ranking_v1_Action__Output } from '../../ranking/v1/Action';
import type { StageOptions as _ranking_v1_StageOptions, StageOptions__Output as _ranking_v1_StageOptions__Output } from '../../ranking/v1/StageOptions';

export interface RankRequest {
  'user_id'?: (string);
  'context'?: (_ranking_v1_Context | null);
  /**
   * In-session actions not yet sent through RecordEvents.
   */
  'recent_actions'?: (_ranking_v1_Action)[];
  /**
   * Re-rank mode: rank these ids instead of retrieving.
   */
  'candidate_ids'?: (string)[];
  'num_results'?: (number);
  /**
   * Per-request objective weights. When given, they are the weights:
   * objectives left out weigh 0 (at least one weight must be positive).
   * When empty, the surface's default weights apply.
   */
  'objective_weights'?: ({[key: string]: number | string});
  'options'?: (_ranking_v1_StageOptions | null);
  'debug'?: (boolean);
  /**
   * Optional end-to-end budget in milliseconds (besides the gRPC deadline).
   */
  'latency_budget_ms'?: (number);
  /**
   * Rank profile (a name from the server's --profiles file): its values are
   * the defaults of every option left unset here. Empty: the user's bucket
   * of the experiment running on the surface, else the surface's default
   * profile. An unknown name is INVALID_ARGUMENT.
   */
  'profile'?: (string);
}

export interface RankRequest__Output {
  'user_id': (string);
  'context': (_ranking_v1_Context__Output | null);
  /**
   * In-session actions not yet sent through RecordEvents.
   */
  'recent_actions': (_ranking_v1_Action__Output)[];
  /**
   * Re-rank mode: rank these ids instead of retrieving.
   */
  'candidate_ids': (string)[];
  'num_results': (number);
  /**
   * Per-request objective weights. When given, they are the weights:
   * objectives left out weigh 0 (at least one weight must be positive).
   * When empty, the surface's default weights apply.
   */
  'objective_weights': ({[key: string]: number});
  'options': (_ranking_v1_StageOptions__Output | null);
  'debug': (boolean);
  /**
   * Optional end-to-end budget in milliseconds (besides the gRPC deadline).
   */
  'latency_budget_ms': (number);
  /**
   * Rank profile (a name from the server's --profiles file): its values are
   * the defaults of every option left unset here. Empty: the user's bucket
   * of the experiment running on the surface, else the surface's default
   * profile. An unknown name is INVALID_ARGUMENT.
   */
  'profile': (string);
}
