// Original file: proto/ranking/v1/ranking.proto

export const EnsembleMethod = {
  /**
   * the engine's default (weighted)
   */
  ENSEMBLE_METHOD_UNSPECIFIED: 'ENSEMBLE_METHOD_UNSPECIFIED',
  /**
   * score = sum_o w_o P(o), w the request's objective weights.
   */
  ENSEMBLE_METHOD_WEIGHTED: 'ENSEMBLE_METHOD_WEIGHTED',
  /**
   * The bundle's learned ensemble (a small model of P and w, trained with a
   * ranking loss); INVALID_ARGUMENT when the serving bundle has none.
   */
  ENSEMBLE_METHOD_LEARNED: 'ENSEMBLE_METHOD_LEARNED',
} as const;

export type EnsembleMethod =
  /**
   * the engine's default (weighted)
   */
  | 'ENSEMBLE_METHOD_UNSPECIFIED'
  | 0
  /**
   * score = sum_o w_o P(o), w the request's objective weights.
   */
  | 'ENSEMBLE_METHOD_WEIGHTED'
  | 1
  /**
   * The bundle's learned ensemble (a small model of P and w, trained with a
   * ranking loss); INVALID_ARGUMENT when the serving bundle has none.
   */
  | 'ENSEMBLE_METHOD_LEARNED'
  | 2

export type EnsembleMethod__Output = typeof EnsembleMethod[keyof typeof EnsembleMethod]
