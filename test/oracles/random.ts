// Small seeded PRNG and random-array helpers shared by tests and benchmarks.
// Deterministic across runs and platforms (pure 32-bit integer arithmetic).

/** A generator of uniform numbers in [0, 1). */
export type Rng = () => number;

export { mulberry32 } from '../../src/util/random';

/** Integer in [lo, hi). */
export function randomInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo));
}

/** n floats uniform in [lo, hi). */
export function uniformArray(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  const w = hi - lo;
  for (let i = 0; i < n; i++) out[i] = lo + w * rng();
  return out;
}

/** n floats from N(mean, std^2) (Box-Muller, two values per pair of draws). */
export function normalArray(rng: Rng, n: number, mean = 0, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rng(); // (0, 1]: log stays finite
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Scales each of the n = x.length / dim rows of x to unit L2 norm, in place (zero rows stay zero). */
export function normalizeRows(x: Float32Array, dim: number): Float32Array {
  for (let off = 0; off < x.length; off += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[off + j] * x[off + j];
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) x[off + j] *= inv;
  }
  return x;
}

/** Random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(rng: Rng, n: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** A uniform 63-bit non-negative integer as a bigint. */
export function randomId(rng: Rng): bigint {
  const hi = BigInt(Math.floor(rng() * 0x80000000)); // 31 bits
  const lo = BigInt(Math.floor(rng() * 0x100000000)); // 32 bits
  return (hi << 32n) | lo;
}

/** n distinct random non-negative 64-bit ids, mostly above 2^53, in random order. */
export function randomIds(rng: Rng, n: number): BigInt64Array {
  const seen = new Set<bigint>();
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; ) {
    const id = randomId(rng);
    if (seen.has(id)) continue;
    seen.add(id);
    out[i++] = id;
  }
  return out;
}
