// The policy layer (paper section 6): business heuristics, filters and the
// exploration mix, as pure functions over catalog rows and typed arrays.
export { recentMask } from './recency';
export { dedupe, NEAR_DUPLICATE_COSINE } from './dedupe';
export type { DedupeReason, DedupeResult } from './dedupe';
export { limitBrandRuns, maxBrandRun } from './brand-run';
export { sampleBeta, sampleGamma } from './beta';
export { mixExploration } from './exploration';
export type { BetaPosterior, ExplorationMethod, MixedPage, ScoredRows } from './exploration';
