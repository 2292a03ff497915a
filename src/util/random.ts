// Seeded pseudo-random numbers for the demo world and tests: deterministic
// across runs and platforms (integer arithmetic only in the generator).

/** mulberry32: a tiny seeded generator of uniform numbers in [0, 1) (tests, exploration draws). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded generator: uniform floats in [0, 1) (sfc32 over a splitmix32 seed). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** A child generator with its own stream, so adding draws in one part of a
   * generator does not shift the numbers of another. */
  fork(stream: number): Rng {
    return new Rng((this.nextU32() ^ Math.imul(stream + 1, 0x27d4eb2d)) >>> 0);
  }

  nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with N(0, scale^2) values. */
  normals(out: Float32Array, scale = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal() * scale;
    return out;
  }

  /** Gamma(shape, 1), for Dirichlet draws. */
  gamma(shape: number): number {
    return sampleGamma(shape, () => this.next());
  }

  /** Index drawn with probability proportional to weights[i] (cumulative array given). */
  pickCumulative(cumulative: Float64Array): number {
    const total = cumulative[cumulative.length - 1];
    const x = this.next() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Cumulative sums of Zipf weights 1/(i+1)^s for i in [0, n). */
export function zipfCumulative(n: number, s: number): Float64Array {
  const out = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += 1 / Math.pow(i + 1, s);
    out[i] = acc;
  }
  return out;
}

/** Scales row `row` of a row-major matrix to unit L2 norm (zero rows stay zero). */
export function normalizeRow(m: Float32Array, row: number, dim: number): void {
  const o = row * dim;
  let s = 0;
  for (let j = 0; j < dim; j++) s += m[o + j] * m[o + j];
  if (s === 0) return;
  const inv = 1 / Math.sqrt(s);
  for (let j = 0; j < dim; j++) m[o + j] *= inv;
}

/** Standard normal from two uniforms (Box-Muller, one value per call). */
function standardNormal(rng: () => number): number {
  const u = 1 - rng(); // (0, 1]: the log stays finite
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * One draw of Gamma(shape, 1) (Marsaglia-Tsang 2000, with the boost
 * Gamma(a) = Gamma(a + 1) U^(1/a) for shapes below 1): mean and variance
 * `shape`. `rng` gives uniform numbers in [0, 1).
 */
export function sampleGamma(shape: number, rng: () => number): number {
  if (typeof shape !== 'number' || !(shape > 0) || !Number.isFinite(shape)) throw new RangeError(`shape must be a finite number > 0, got ${shape}`);
  if (shape < 1) return sampleGamma(shape + 1, rng) * Math.pow(1 - rng(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng();
    if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}
