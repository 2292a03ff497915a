// Original file: proto/ranking/v1/ranking.proto

export const ExplorationMethod = {
  /**
   * the engine's default (epsilon-greedy)
   */
  EXPLORATION_METHOD_UNSPECIFIED: 'EXPLORATION_METHOD_UNSPECIFIED',
  EXPLORATION_METHOD_NONE: 'EXPLORATION_METHOD_NONE',
  EXPLORATION_METHOD_EPSILON_GREEDY: 'EXPLORATION_METHOD_EPSILON_GREEDY',
  EXPLORATION_METHOD_THOMPSON: 'EXPLORATION_METHOD_THOMPSON',
} as const;

export type ExplorationMethod =
  /**
   * the engine's default (epsilon-greedy)
   */
  | 'EXPLORATION_METHOD_UNSPECIFIED'
  | 0
  | 'EXPLORATION_METHOD_NONE'
  | 1
  | 'EXPLORATION_METHOD_EPSILON_GREEDY'
  | 2
  | 'EXPLORATION_METHOD_THOMPSON'
  | 3

export type ExplorationMethod__Output = typeof ExplorationMethod[keyof typeof ExplorationMethod]
