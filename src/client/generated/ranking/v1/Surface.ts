// Original file: proto/ranking/v1/ranking.proto

export const Surface = {
  SURFACE_UNSPECIFIED: 'SURFACE_UNSPECIFIED',
  SURFACE_HOME: 'SURFACE_HOME',
  SURFACE_BROWSE: 'SURFACE_BROWSE',
  SURFACE_SEARCH: 'SURFACE_SEARCH',
  SURFACE_PDP: 'SURFACE_PDP',
} as const;

export type Surface =
  | 'SURFACE_UNSPECIFIED'
  | 0
  | 'SURFACE_HOME'
  | 1
  | 'SURFACE_BROWSE'
  | 2
  | 'SURFACE_SEARCH'
  | 3
  | 'SURFACE_PDP'
  | 4

export type Surface__Output = typeof Surface[keyof typeof Surface]
