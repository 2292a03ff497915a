// The diversity trade-off: NONE, MMR and DPP at several lambdas, NDCG@10
// against distinct categories in the top 20, and which points are Pareto-optimal.
import type { Spec } from './session';
import { ConfigResult, EvalConfig, EvalReport, NO_EXPLORATION } from './types';

/** Diversity NONE, then MMR and DPP at each of cfg.lambdas. */
export function diversitySpecs(cfg: EvalConfig): Spec[] {
  return [
    { name: 'div-none', description: 'API: default knobs, diversity NONE, exploration NONE', options: { ...NO_EXPLORATION, diversity: 'DIVERSITY_METHOD_NONE' } },
    ...(['MMR', 'DPP'] as const).flatMap((m) =>
      cfg.lambdas.map((l): Spec => ({
        name: `${m.toLowerCase()}-${l}`,
        description: `API: default knobs, diversity ${m}, diversity_lambda ${l}, exploration NONE`,
        options: { ...NO_EXPLORATION, diversity: `DIVERSITY_METHOD_${m}`, diversity_lambda: l },
      })),
    ),
  ];
}

/** Indices of the Pareto-optimal points when both coordinates are to be maximised. */
export function paretoFront(points: { a: number; b: number }[]): boolean[] {
  return points.map((p, i) => !points.some((q, j) => j !== i && q.a >= p.a && q.b >= p.b && (q.a > p.a || q.b > p.b)));
}

/** The report's diversity section: a point per diversity configuration, Pareto-optimal on (NDCG@10, distinct categories). */
export function diversitySection(cfg: EvalConfig, configs: Record<string, ConfigResult>): EvalReport['diversity'] {
  const points = diversitySpecs(cfg).map((s) => {
    const c = configs[s.name];
    const [method, l] = s.name === 'div-none' ? ['none', null] : s.name.split('-');
    return {
      method,
      lambda: l === null ? null : Number(l),
      ndcg10: c.ndcg10,
      distinctCategories20: c.distinctCategories20,
      distinctBrands20: c.distinctBrands20,
      maxBrandRun: c.maxBrandRun,
      pareto: false,
    };
  });
  paretoFront(points.map((p) => ({ a: p.ndcg10, b: p.distinctCategories20 }))).forEach((f, i) => (points[i].pareto = f));
  return {
    note: 'default knobs with exploration NONE; NDCG@10 vs distinct categories in the top 20; pareto = not dominated on (NDCG@10, distinct categories)',
    points,
  };
}
