// Rule: a timestamped event (purchase, impression) counts while its age
// now - t is at most `windowMs`; events stamped in the future (clock skew)
// count as just happened. The policy stage applies it to impressions (seen
// TTL) and purchases (down-rank window).

/** Checks that a window or ttl is a non-negative number (Infinity allowed). */
export function checkWindow(name: string, ms: number): void {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw new RangeError(`${name} must be a number >= 0, got ${ms}`);
  }
}

/** Checks that `now` is a finite time in ms. */
export function checkNow(now: number): void {
  if (typeof now !== 'number' || !Number.isFinite(now)) throw new RangeError(`now must be a finite time in ms, got ${now}`);
}

/**
 * 1 at position i when rows[i] has an event in `times` with
 * now - times.get(rows[i]) <= windowMs, else 0.
 */
export function recentMask(rows: Int32Array, times: ReadonlyMap<number, number>, now: number, windowMs: number): Uint8Array {
  checkNow(now);
  checkWindow('window', windowMs);
  const mask = new Uint8Array(rows.length);
  if (times.size === 0) return mask;
  for (let i = 0; i < rows.length; i++) {
    const t = times.get(rows[i]);
    if (t !== undefined && now - t <= windowMs) mask[i] = 1;
  }
  return mask;
}
