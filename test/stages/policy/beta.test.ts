// Gamma and Beta samplers: sample mean and variance against the closed forms
// (shapes below and above 1), support, determinism, argument checks.
import * as assert from 'node:assert/strict';
import { sampleBeta, sampleGamma } from '../../../src/stages/policy/beta';
import { mulberry32 } from '../../oracles/random';

const N = 40_000;

function moments(draw: () => number): { mean: number; variance: number; min: number; max: number } {
  let s = 0;
  let s2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < N; i++) {
    const x = draw();
    s += x;
    s2 += x * x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  const mean = s / N;
  return { mean, variance: s2 / N - mean * mean, min, max };
}

describe('policy: beta sampler', () => {
  for (const [a, b] of [[1, 1], [2, 5], [0.5, 0.5], [30, 3], [0.3, 4]]) {
    it(`Beta(${a}, ${b}) has the right mean and variance`, () => {
      const rng = mulberry32(1000 + a * 10 + b);
      const m = moments(() => sampleBeta(a, b, rng));
      const mean = a / (a + b);
      const variance = (a * b) / ((a + b) ** 2 * (a + b + 1));
      // 5 standard errors of the mean; 5% relative on the variance.
      assert.ok(Math.abs(m.mean - mean) < 5 * Math.sqrt(variance / N), `mean ${m.mean} vs ${mean}`);
      assert.ok(Math.abs(m.variance - variance) < 0.05 * variance, `variance ${m.variance} vs ${variance}`);
      assert.ok(m.min >= 0 && m.max <= 1);
    });
  }

  for (const shape of [0.4, 1, 3.5, 20]) {
    it(`Gamma(${shape}) has mean and variance ${shape}`, () => {
      const rng = mulberry32(77 + shape * 10);
      const m = moments(() => sampleGamma(shape, rng));
      assert.ok(Math.abs(m.mean - shape) < 5 * Math.sqrt(shape / N), `mean ${m.mean}`);
      assert.ok(Math.abs(m.variance - shape) < 0.06 * shape, `variance ${m.variance}`);
      assert.ok(m.min >= 0);
    });
  }

  it('is deterministic for a seeded rng and falls back to the limit law for tiny shapes', () => {
    const a = mulberry32(9);
    const b = mulberry32(9);
    for (let i = 0; i < 100; i++) assert.equal(sampleBeta(2, 3, a), sampleBeta(2, 3, b));
    const rng = mulberry32(4);
    let ones = 0;
    for (let i = 0; i < 2000; i++) {
      const x = sampleBeta(1e-3, 3e-3, rng);
      assert.ok(x >= 0 && x <= 1 && !Number.isNaN(x));
      if (x > 0.5) ones++;
    }
    assert.ok(Math.abs(ones / 2000 - 0.25) < 0.05, `P(x > 0.5) = ${ones / 2000}, expected about 0.25`);
  });

  it('rejects non-positive or non-finite shapes', () => {
    const rng = mulberry32(1);
    assert.throws(() => sampleBeta(0, 1, rng), RangeError);
    assert.throws(() => sampleBeta(1, -2, rng), RangeError);
    assert.throws(() => sampleGamma(NaN, rng), RangeError);
    assert.throws(() => sampleGamma(Infinity, rng), RangeError);
  });
});
