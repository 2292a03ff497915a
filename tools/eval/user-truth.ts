// The ground truth of one request: the true probabilities of every catalog
// item for the user, surface and device, the true weighted utility with the
// surface's default objective weights, the oracle list (the catalog's top
// items by true utility), and the scores of any list against them. Every list
// is also scored per objective o of the bundle: the gain is the true P(o),
// the oracle ranks by P(o).
import { newItemMask } from '../../src/bundle/loader';
import { Device, Surface } from '../../src/models/schema';
import { topK } from '../../src/native';
import { Objective, OBJECTIVES } from '../world/schema';
import { trueProbabilities, trueUtility } from '../world/truth';
import { column, countWhere, distinctCount, maxBrandRun, mean, ndcgAt, recallAt } from './metrics';
import type { EvalSession, ObjectiveScores, TruthFrame } from './session';
import { EvalReport, ListScores, NUM_RESULTS } from './types';

export function truthFrame(s: EvalSession): TruthFrame {
  const { bundle, engine } = s;
  const allRows = Int32Array.from({ length: bundle.items.n }, (_, i) => i);
  const isNew = newItemMask(bundle, engine.now());
  const objNames = bundle.manifest.objectives.filter((o) => (OBJECTIVES as readonly string[]).includes(o));
  return {
    allRows,
    isNew,
    newRows: Int32Array.from(allRows.filter((r) => isNew[r] === 1)),
    objNames,
    objCols: objNames.map((o) => (OBJECTIVES as readonly string[]).indexOf(o)),
  };
}

export interface RequestTruth {
  utility: Float32Array;
  /** The top NUM_RESULTS rows by true utility. */
  oracle: number[];
  score: (rows: number[]) => ListScores;
  objScores: (rows: number[]) => ObjectiveScores;
  /** Each objective's oracle list scored against itself (must be 1). */
  objSelf: number[];
}

/** The truth of user u's request on a surface from a device. */
export function requestTruth(s: EvalSession, frame: TruthFrame, u: number, surface: Surface, device: Device): RequestTruth {
  const { bundle, truth } = s;
  const bw = bundle.manifest.defaultWeights[surface];
  const weights = Object.fromEntries(OBJECTIVES.map((o) => [o, bw[o] ?? 0])) as Record<Objective, number>;
  const probs = trueProbabilities(truth.coefficients, truth.items, truth.users, u, frame.allRows, { surface, device });
  const utility = trueUtility(probs, weights);
  const oracle = Array.from(topK(utility, NUM_RESULTS));
  const ideal = oracle.map((r) => utility[r]);
  // Per objective: gains P(o), the ideal from the catalog's top by P(o).
  const objTruth = frame.objCols.map((j) => {
    const p = column(probs, OBJECTIVES.length, j);
    const top = Array.from(topK(p, NUM_RESULTS));
    return { p, top, ideal: top.map((r) => p[r]) };
  });
  const objScores = (rows: number[]): ObjectiveScores => ({
    objNdcg10: objTruth.map((t) => ndcgAt(rows.map((r) => t.p[r]), t.ideal, 10)),
    objNdcg50: objTruth.map((t) => ndcgAt(rows.map((r) => t.p[r]), t.ideal, 50)),
  });
  const { newRows, isNew } = frame;
  const topNew = Array.from(topK(Float32Array.from(newRows, (r) => utility[r]), Math.min(NUM_RESULTS, newRows.length)), (p) => newRows[p]);
  const catOf = (r: number) => bundle.items.category[r];
  const brandOf = (r: number) => bundle.items.brand[r];
  const score = (rows: number[]): ListScores => {
    const gains = rows.map((r) => utility[r]);
    const top20 = rows.slice(0, 20);
    return {
      ndcg10: ndcgAt(gains, ideal, 10),
      ndcg50: ndcgAt(gains, ideal, 50),
      recall50: recallAt(rows, oracle, 50),
      distinctCategories20: distinctCount(top20.map(catOf)),
      distinctBrands20: distinctCount(top20.map(brandOf)),
      maxBrandRun: maxBrandRun(rows.map(brandOf)),
      length: rows.length,
      newShare: rows.length > 0 ? countWhere(rows, (r) => isNew[r] === 1) / rows.length : 0,
      newRecall50: recallAt(rows, topNew, NUM_RESULTS),
    };
  };
  return { utility, oracle, score, objScores, objSelf: objTruth.map((t) => ndcgAt(t.ideal, t.ideal, 50)) };
}

/** The oracle lists scored by the same code as every other list (must be 1). */
export function oracleCheck(scores: ListScores[]): EvalReport['oracleCheck'] {
  const m = (f: (x: ListScores) => number) => mean(scores.map(f));
  return {
    ndcg10: m((x) => x.ndcg10),
    ndcg50: m((x) => x.ndcg50),
    recall50: m((x) => x.recall50),
    distinctCategories20: m((x) => x.distinctCategories20),
    distinctBrands20: m((x) => x.distinctBrands20),
    maxBrandRun: m((x) => x.maxBrandRun),
    newShare: m((x) => x.newShare),
    newRecall50: m((x) => x.newRecall50),
  };
}

/** The report's per-objective section from the weighted oracle's scores and the objectives' self-checks. */
export function objectivesSection(objNames: string[], weightedOracle: ObjectiveScores[], objSelf: number[]): EvalReport['objectives'] {
  return {
    note:
      `per objective o of the bundle (${objNames.join(', ')}): NDCG with the true probability P(o) of each listed item as the gain, against the oracle ranking of all items by P(o) ` +
      '(for the same user, surface and device); the weighted utility sum_o w_o P(o) stays the headline. Every configuration is scored; the weighted oracle row is the top 50 by weighted utility',
    names: objNames,
    weightedOracle: Object.fromEntries(
      objNames.map((o, j) => [o, { ndcg10: mean(weightedOracle.map((v) => v.objNdcg10[j])), ndcg50: mean(weightedOracle.map((v) => v.objNdcg50[j])) }]),
    ),
    selfCheckNdcg50: mean(objSelf),
  };
}
