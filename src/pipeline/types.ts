// Shared types of the ranking engine: candidate sets (struct of arrays over
// catalog rows), the request context the stages read, and the stage contract.

export const PROVENANCE = { retrieved: 1, fresh: 2, provided: 3 } as const;
export type ProvenanceCode = (typeof PROVENANCE)[keyof typeof PROVENANCE];


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
  /** Logged requests: the probability that the policy placed the candidate where it is (policy stage). */
  propensity?: Float64Array;
}

export interface Removed {
  row: number;
  stage: string;
  reason: string;
}

