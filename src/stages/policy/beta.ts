// Rule: Beta(alpha, beta) draws as X / (X + Y) with X ~ Gamma(alpha, 1) and
// Y ~ Gamma(beta, 1); Gamma by Marsaglia-Tsang (2000), with the boost
// Gamma(a) = Gamma(a + 1) * U^(1/a) for shapes below 1. `rng` gives uniform
// numbers in [0, 1); nothing else is random, so a seeded rng gives repeatable draws.
import { sampleGamma } from '../../util/random';

function checkShape(name: string, x: number): void {
  if (typeof x !== 'number' || !(x > 0) || !Number.isFinite(x)) throw new RangeError(`${name} must be a finite number > 0, got ${x}`);
}

export { sampleGamma };

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
