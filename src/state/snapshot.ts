// What one user's state contributes to a request: the store's answer, read by the cascade.

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

/** The state of a user the store knows nothing of. */
export function emptySnapshot(): UserSnapshot {
  return { actionRows: new Int32Array(0), actionCodes: new Uint8Array(0), actionTimes: new Float64Array(0), purchased: new Map(), seen: new Map() };
}
