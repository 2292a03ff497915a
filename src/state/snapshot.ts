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
