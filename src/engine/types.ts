// Shared types of the ranking engine: candidate sets (struct of arrays over
// catalog rows), the request context the stages read, and the stage contract.

export const PROVENANCE = { retrieved: 1, fresh: 2, provided: 3 } as const;
export type ProvenanceCode = (typeof PROVENANCE)[keyof typeof PROVENANCE];

/** Action codes used everywhere in the engine (as in the user tower's input). */
export const ACTION = { impression: 1, click: 2, wishlist: 3, cart: 4, purchase: 5 } as const;
export type ActionCode = (typeof ACTION)[keyof typeof ACTION];
export const ACTION_NAMES: Record<number, keyof typeof ACTION> = { 1: 'impression', 2: 'click', 3: 'wishlist', 4: 'cart', 5: 'purchase' };

/**
 * A candidate set: parallel arrays over n candidates. Stages never copy
 * embeddings; they pass catalog rows and scores.
 */
export interface Candidates {
  rows: Int32Array;
  /** The current stage's score (higher is better). */
  scores: Float32Array;
  provenance: Uint8Array;
  /** 1 where the strong pre-ranker scored the candidate. */
  strong: Uint8Array;
  /** n x objectives probabilities, once the ranker has run. */
  objectives?: Float32Array;
  /** 1 where exploration placed the candidate (policy stage). */
  exploration?: Uint8Array;
}

export interface Removed {
  row: number;
  stage: string;
  reason: string;
}

/** What one user's state contributes to a request. */
export interface UserSnapshot {
  /** Most recent actions, oldest first (at most the tower's sequence length). */
  actionRows: Int32Array;
  actionCodes: Uint8Array;
  actionTimes: Float64Array;
  /** Catalog rows purchased within the down-rank window, with purchase times. */
  purchased: Map<number, number>;
  /** Catalog rows the user has seen recently (impressions), with their last time. */
  seen: Map<number, number>;
}
