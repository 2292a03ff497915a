// The demo world's vocabulary and configuration (surfaces, devices and
// action codes are the engine's own: models/schema.ts).

export const OBJECTIVES = ['click', 'wishlist', 'cart', 'purchase'] as const;
/** Action types of the interaction log, weakest to strongest. */
export const ACTIONS = ['impression', 'click', 'wishlist', 'cart', 'purchase'] as const;

export type Objective = (typeof OBJECTIVES)[number];
export type Action = (typeof ACTIONS)[number];

export interface WorldConfig {
  seed: number;
  items: number;
  users: number;
  /** Embedding dimension of items and users. */
  dim: number;
  categories: number;
  brands: number;
  /** Share of items created in the 7 days before referenceTime. */
  newItemRate: number;
  /** Share of items that copy another item (same content hash). */
  duplicateRate: number;
  /** Share of items with a near-identical embedding but their own content hash. */
  nearDuplicateRate: number;
  /** Norm of the noise (relative to the unit latent vector) in the served embeddings. */
  embeddingNoise: number;
  /** Share of users with only a handful of actions (cold-start segment). */
  newUserRate: number;
  /** Most events per user in the log (clicks and their follow-ups together). */
  maxActions: number;
  /** ISO time the world is generated "at": created_at and event times are relative to it. */
  referenceTime: string;
}

export const DEFAULT_WORLD: WorldConfig = {
  seed: 7,
  items: 100_000,
  users: 10_000,
  dim: 32,
  categories: 24,
  brands: 400,
  newItemRate: 0.05,
  duplicateRate: 0.01,
  nearDuplicateRate: 0.005,
  embeddingNoise: 0.4,
  newUserRate: 0.2,
  maxActions: 50,
  referenceTime: '2026-11-01T00:00:00.000Z',
};

export const DAY_MS = 86_400_000;
