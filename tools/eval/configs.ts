// Each configuration's samples summed up: means and per-request intervals,
// stage times, and the breakdowns by segment, surface and objective.
import { groupMeans, mean, meanInterval } from './metrics';
import type { Collected, Sample, Spec } from './session';
import { ConfigResult, EVAL_SURFACES } from './types';

/** The mean of the non-null values (null: none). */
function meanOf(xs: Sample[], f: (x: Sample) => number | null): number | null {
  const v = xs.map(f).filter((x): x is number => x !== null);
  return v.length === 0 ? null : mean(v);
}

/** NDCG@10 / @50 by group (users of each, in `order`). */
function breakdown(xs: Sample[], key: (x: Sample) => string, order: string[]): Record<string, { users: number; ndcg10: number; ndcg50: number }> {
  const g10 = groupMeans(xs.map((x) => x.scores.ndcg10), xs.map(key), order);
  const g50 = groupMeans(xs.map((x) => x.scores.ndcg50), xs.map(key), order);
  return Object.fromEntries(Object.keys(g10).map((k) => [k, { users: g10[k].n, ndcg10: g10[k].mean, ndcg50: g50[k].mean }]));
}

/** Every configuration's result, in the order of the specs. */
export function configResults(specs: Spec[], c: Collected): Record<string, ConfigResult> {
  const configs: Record<string, ConfigResult> = {};
  for (const spec of specs) configs[spec.name] = configResult(spec, c.samples.get(spec.name)!, c);
  return configs;
}

function configResult(spec: Spec, xs: Sample[], c: Collected): ConfigResult {
  const m = (f: (x: Sample) => number) => mean(xs.map(f));
  return {
    name: spec.name,
    description: spec.description,
    options: spec.options === null ? null : { ...spec.options },
    engine: spec.options === null ? 'none' : spec.engine ?? 'default',
    requests: xs.length,
    ndcg10: m((x) => x.scores.ndcg10),
    ndcg50: m((x) => x.scores.ndcg50),
    ndcg10Ci: meanInterval(xs.map((x) => x.scores.ndcg10)),
    ndcg50Ci: meanInterval(xs.map((x) => x.scores.ndcg50)),
    recall50: m((x) => x.scores.recall50),
    distinctCategories20: m((x) => x.scores.distinctCategories20),
    distinctBrands20: m((x) => x.scores.distinctBrands20),
    maxBrandRun: m((x) => x.scores.maxBrandRun),
    length: m((x) => x.scores.length),
    newShare: m((x) => x.scores.newShare),
    newRecall50: m((x) => x.scores.newRecall50),
    prerankMs: meanOf(xs, (x) => x.prerankMs),
    retrievalMs: meanOf(xs, (x) => x.retrievalMs),
    requestMs: meanOf(xs, (x) => x.requestMs),
    strongFraction: meanOf(xs, (x) => x.strongFraction),
    explorationShare: meanOf(xs, (x) => x.explorationShare),
    bySegment: breakdown(xs, (x) => x.segment, Object.keys(c.segments)),
    bySurface: breakdown(xs, (x) => x.surface, EVAL_SURFACES.filter((v) => v in c.surfaces)),
    byObjective: Object.fromEntries(
      c.frame.objNames.map((o, j) => [
        o,
        { ndcg10: mean(xs.map((x) => x.objNdcg10[j])), ndcg50: mean(xs.map((x) => x.objNdcg50[j])), ndcg50Ci: meanInterval(xs.map((x) => x.objNdcg50[j])) },
      ]),
    ),
  };
}

/** Per request, the NDCG@50 of one configuration (in the order of the sampled users). */
export function perRequestNdcg50(c: Collected): (name: string) => number[] {
  return (name) => c.samples.get(name)!.map((x) => x.scores.ndcg50);
}
