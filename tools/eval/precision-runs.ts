// The precision engines and their runs: an engine whose rankers run in fp32
// beside one per compared precision (int8, bf16 by default), the same
// requests to each; the comparison itself is precision.ts's.
import { onednnCpu } from '../../src/native';
import type { DcnPrecision } from '../../src/native/dcn-precision';
import type { Engine } from '../../src/pipeline/engine';
import type { EngineOptions } from '../../src/pipeline/options';
import { Rng } from '../../src/util/random';
import { precisionSection, PrecisionRun, REDUCED_PRECISIONS } from './precision';
import type { Collected, EvalSession, PrecisionEngines, Spec } from './session';
import { EvalReport, NO_EXPLORATION } from './types';

/**
 * Adds the fp32 reference, then one engine per compared precision, built one
 * after the other the same way (not the default engine even where its 'auto'
 * is that precision: its clock started earlier, it holds a warm
 * user-embedding cache), so they differ in the rankers' precision.
 */
export async function addPrecisionEngines(
  engines: Map<string, Engine>,
  variant: (o: Partial<EngineOptions>) => Promise<Engine>,
  precisions: DcnPrecision[] = [...REDUCED_PRECISIONS],
): Promise<PrecisionEngines> {
  const unique = [...new Set(precisions)];
  const runsIn = (e: Engine, p: DcnPrecision) => e.pool.precision.ranker.precision === p && e.pool.precision.preranker.precision === p;
  const reference = unique.length === 0 ? null : 'fp32 reference';
  const compared = unique.map((p) => ({ precision: p, engine: `precision ${p}` }));
  for (const { precision: p, engine: key } of reference === null ? [] : [{ precision: 'fp32' as const, engine: reference }, ...compared]) {
    const e = await variant({ rankerPrecision: p });
    engines.set(key, e);
    if (!runsIn(e, p)) throw new Error(`the ${key} engine runs ${JSON.stringify(e.pool.precision)}, not ${p}`);
  }
  return { reference, compared };
}

/** Default knobs, exploration NONE, from the fp32 reference and from each compared precision's engine. */
export function precisionSpecs(s: EvalSession): Spec[] {
  const { reference, compared } = s.precision;
  if (reference === null) return [];
  return [
    { name: 'precision-fp32-reference', description: "API: default knobs, exploration NONE; rankers in fp32 (the precision section's reference)", options: { ...NO_EXPLORATION }, engine: reference },
    ...compared.map((x): Spec => ({
      name: `precision-${x.precision}`,
      description: `API: default knobs, exploration NONE; rankers in ${x.precision}`,
      options: { ...NO_EXPLORATION },
      engine: x.engine,
    })),
  ];
}

/** The report's precision section (null: no precision compared). */
export function precisionReport(s: EvalSession, c: Collected): EvalReport['precision'] {
  const { reference, compared } = s.precision;
  if (reference === null) return null;
  const run = (name: string): PrecisionRun => ({
    ndcg10: c.samples.get(name)!.map((x) => x.scores.ndcg10),
    ndcg50: c.samples.get(name)!.map((x) => x.scores.ndcg50),
    lists: c.precisionLists.get(name)!,
  });
  const boot = new Rng((s.cfg.seed ^ 0xb16f) >>> 0);
  const p = s.engine.pool.precision;
  return precisionSection({
    cpu: onednnCpu,
    auto: { ranker: p.ranker.precision, preranker: p.preranker.precision },
    defaultEngine: { ranker: p.ranker.precision, preranker: p.preranker.precision },
    reference: { engine: reference, run: run('precision-fp32-reference') },
    compared: compared.map((x) => ({ precision: x.precision, engine: x.engine, run: run(`precision-${x.precision}`) })),
    random: () => boot.next(),
    iters: s.cfg.bootstrapIters ?? 1000,
  });
}
