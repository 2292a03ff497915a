// Rule (paper section 6, "Business Heuristics"): when a run of same-brand items
// a_n, ..., a_{n+k} exceeds `limit` (k = limit, so limit + 1 items), the first
// item of a different brand in the rest of the list a_{n+k+1}, ..., a_M is moved
// to position n+k (the items from n+k on shift down by one). Repeated, left to
// right, until no run exceeds `limit` or no different-brand item remains after
// an over-long run (then the tail is left as it is). Brand codes are compared
// as given (two items with code -1 count as the same brand).

/** Length of the longest run of consecutive same-brand items in `order`. */
export function maxBrandRun(order: Int32Array, brandOf: Int32Array): number {
  let best = 0;
  let run = 0;
  for (let p = 0; p < order.length; p++) {
    run = p > 0 && brandOf[order[p]] === brandOf[order[p - 1]] ? run + 1 : 1;
    if (run > best) best = run;
  }
  return best;
}

/**
 * A new order (catalog rows) in which no more than `limit` same-brand items
 * follow each other wherever the rule above can achieve it. `order` is not
 * modified. limit: integer >= 1.
 */
export function limitBrandRuns(order: Int32Array, brandOf: Int32Array, limit: number): Int32Array {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
  for (let p = 0; p < order.length; p++) {
    if (!(order[p] >= 0 && order[p] < brandOf.length)) throw new RangeError(`order[${p}] = ${order[p]} has no brand (brandOf has ${brandOf.length} rows)`);
  }
  const out = Int32Array.from(order);
  let run = 0;
  // Every item in (p, scan) has the run's brand: the search for a breaker resumes at scan.
  let scan = 0;
  for (let p = 0; p < out.length; p++) {
    const brand = brandOf[out[p]];
    run = p > 0 && brand === brandOf[out[p - 1]] ? run + 1 : 1;
    if (run <= limit) continue;
    // p is the (limit + 1)-th item of a run: find the first different brand after it.
    let j = Math.max(p + 1, scan);
    while (j < out.length && brandOf[out[j]] === brand) j++;
    if (j === out.length) break; // only this brand remains: nothing can break the run
    const moved = out[j];
    out.copyWithin(p + 1, p, j); // out[p..j-1] -> out[p+1..j]
    out[p] = moved;
    run = 1;
    scan = j + 1; // out[p+1..j] all have `brand`
  }
  return out;
}
