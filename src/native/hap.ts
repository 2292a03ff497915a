// HAP adaptive pre-ranking router and top-k selection (native).
import { native } from './binding';
import { NativeInputError, checkF32, checkI32, checkInt } from './checks';

/** Positions of the k largest scores, best first (ties: lower position first). */
export function topK(scores: Float32Array, k: number): Int32Array {
  checkF32('scores', scores); // finiteness: checked natively, once
  return native.topK(scores, checkInt('k', k, 0));
}

/**
 * Picks the candidates whose keep/drop decision at the top-`keep` boundary is
 * least certain (nearest the boundary of the light score, widened by an
 * optional per-candidate uncertainty), at most `budget` of them, most
 * uncertain first. These are the ones worth the strong model.
 */
export function hapRoute(light: Float32Array, keep: number, budget: number, uncertainty?: Float32Array): Int32Array {
  checkF32('light', light);
  checkInt('keep', keep, 0);
  checkInt('budget', budget, 0);
  if (uncertainty !== undefined) checkF32('uncertainty', uncertainty, light.length);
  return native.hapRoute(light, keep, budget, uncertainty);
}

export interface HapMerged {
  /** Positions into the candidate list, best first, at most `keep`. */
  order: Int32Array;
  /** Final pre-rank score of each kept candidate (light scale). */
  scores: Float32Array;
}

/**
 * Replaces the light scores of the routed candidates by their strong scores,
 * calibrated onto the light scale (mean/std matched over the routed set), and
 * keeps the top `keep`.
 */
export function hapMerge(light: Float32Array, hard: Int32Array, strong: Float32Array, keep: number): HapMerged {
  checkF32('light', light);
  checkI32('hard', hard);
  checkF32('strong', strong, hard.length);
  checkInt('keep', keep, 0);
  const seen = new Uint8Array(light.length);
  for (let i = 0; i < hard.length; i++) {
    const p = hard[i];
    if (p < 0 || p >= light.length) throw new NativeInputError(`hard[${i}] = ${p} is out of range [0, ${light.length})`);
    if (seen[p]) throw new NativeInputError(`hard contains position ${p} twice`);
    seen[p] = 1;
  }
  return native.hapMerge(light, hard, strong, keep);
}
