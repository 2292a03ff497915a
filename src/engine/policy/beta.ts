// Rule: Beta(alpha, beta) draws as X / (X + Y) with X ~ Gamma(alpha, 1) and
// Y ~ Gamma(beta, 1); Gamma by Marsaglia-Tsang (2000), with the boost
// Gamma(a) = Gamma(a + 1) * U^(1/a) for shapes below 1. `rng` gives uniform
// numbers in [0, 1); nothing else is random, so a seeded rng gives repeatable draws.

/** Standard normal from two uniforms (Box-Muller, one value per call). */
function standardNormal(rng: () => number): number {
  const u = 1 - rng(); // (0, 1]: the log stays finite
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function checkShape(name: string, x: number): void {
  if (typeof x !== 'number' || !(x > 0) || !Number.isFinite(x)) throw new RangeError(`${name} must be a finite number > 0, got ${x}`);
}

/** One draw of Gamma(shape, 1): mean shape, variance shape. */
export function sampleGamma(shape: number, rng: () => number): number {
  checkShape('shape', shape);
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

/**
 * One draw of Beta(alpha, beta) in [0, 1]: mean a / (a + b), variance
 * ab / ((a + b)^2 (a + b + 1)). When both Gamma draws underflow to 0 (tiny
 * shapes), returns 1 with probability a / (a + b), else 0: the limit law.
 */
export function sampleBeta(alpha: number, beta: number, rng: () => number): number {
  checkShape('alpha', alpha);
  checkShape('beta', beta);
  const x = sampleGamma(alpha, rng);
  const y = sampleGamma(beta, rng);
  const s = x + y;
  if (s > 0) return x / s;
  return rng() < alpha / (alpha + beta) ? 1 : 0;
}
