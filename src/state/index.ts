// User state and online item statistics of the ranking engine.
export type { ApplyResult, EngineEvent, InMemoryUserStoreOptions, UserStore } from './user-store';
export { InMemoryUserStore, USER_STORE_DEFAULTS, validateEvents } from './user-store';
export type { BetaPosterior } from './item-stats';
export { ItemStats } from './item-stats';
export type { SeedOptions, SeedResult } from './seed';
export { seedFromEvents } from './seed';
