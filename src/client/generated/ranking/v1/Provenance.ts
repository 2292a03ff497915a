// Original file: proto/ranking/v1/ranking.proto

export const Provenance = {
  PROVENANCE_UNSPECIFIED: 'PROVENANCE_UNSPECIFIED',
  /**
   * from the ANN index
   */
  PROVENANCE_RETRIEVED: 'PROVENANCE_RETRIEVED',
  /**
   * from the new-items source
   */
  PROVENANCE_FRESH: 'PROVENANCE_FRESH',
  /**
   * supplied by the caller (re-rank mode)
   */
  PROVENANCE_PROVIDED: 'PROVENANCE_PROVIDED',
} as const;

export type Provenance =
  | 'PROVENANCE_UNSPECIFIED'
  | 0
  /**
   * from the ANN index
   */
  | 'PROVENANCE_RETRIEVED'
  | 1
  /**
   * from the new-items source
   */
  | 'PROVENANCE_FRESH'
  | 2
  /**
   * supplied by the caller (re-rank mode)
   */
  | 'PROVENANCE_PROVIDED'
  | 3

export type Provenance__Output = typeof Provenance[keyof typeof Provenance]
