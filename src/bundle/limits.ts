// Bounds on item features, enforced on every way an item enters the catalog
// (bundle load, UpsertItems). The ranker's cross layers multiply features
// with each other, so a value far beyond what a trained model produces
// overflows float32: 3e38 in one embedding component turns every score of
// that item into Infinity or NaN. The bounds leave room for any plausible
// trained model while keeping every score of a valid item finite.

/** Largest magnitude of an embedding component or a popularity bias. */
export const MAX_FEATURE_MAGNITUDE = 1e4;

/** Largest item price (the ranker sees its standardised logarithm). */
export const MAX_PRICE = 1e12;

/**
 * The first value of `data` (row-major, `cols` per row) that is not finite
 * or exceeds MAX_FEATURE_MAGNITUDE in magnitude, as { row, col }, or null.
 */
export function firstOutOfBounds(data: Float32Array, cols: number): { row: number; col: number } | null {
  for (let i = 0; i < data.length; i++) {
    if (!(Math.abs(data[i]) <= MAX_FEATURE_MAGNITUDE)) return { row: Math.floor(i / cols), col: i % cols };
  }
  return null;
}
