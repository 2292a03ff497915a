// Original file: proto/ranking/v1/ranking.proto

export const DiversityMethod = {
  /**
   * the engine's default (DPP)
   */
  DIVERSITY_METHOD_UNSPECIFIED: 'DIVERSITY_METHOD_UNSPECIFIED',
  DIVERSITY_METHOD_NONE: 'DIVERSITY_METHOD_NONE',
  DIVERSITY_METHOD_MMR: 'DIVERSITY_METHOD_MMR',
  DIVERSITY_METHOD_DPP: 'DIVERSITY_METHOD_DPP',
} as const;

export type DiversityMethod =
  /**
   * the engine's default (DPP)
   */
  | 'DIVERSITY_METHOD_UNSPECIFIED'
  | 0
  | 'DIVERSITY_METHOD_NONE'
  | 1
  | 'DIVERSITY_METHOD_MMR'
  | 2
  | 'DIVERSITY_METHOD_DPP'
  | 3

export type DiversityMethod__Output = typeof DiversityMethod[keyof typeof DiversityMethod]
