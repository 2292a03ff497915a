// Users with several interests: the page before (one user vector, no
// calibration) and after (the defaults: one search per interest, calibrated
// page), scored against the world's truth of each user's interest
// categories and their weights (interest-metrics.ts), over the first
// cfg.interestUsers returning users with two or more interest categories and
// as many with one; top-20 pages through the API with exploration off, for
// each diversity method. NDCG@50 of the same users' 50-item pages, and a
// sweep of the calibration weight (NDCG@50 against miscalibration).
import type { StageOptions } from '../../src/client';
import { INTEREST_DEFAULTS, actionWeights } from '../../src/models/interests';
import { DEFAULT_RANK } from '../../src/pipeline/options';
import { ndcgAt } from './metrics';
import { scoreInterestPage, summariseInterestPages } from './interest-metrics';
import type { InterestPageScore } from './interest-metrics';
import { WIRE_DEVICE, WIRE_SURFACE, toRows } from './serve';
import type { EvalSession, Spec } from './session';
import { EvalReport, NO_EXPLORATION, NUM_RESULTS } from './types';
import { requestTruth, truthFrame } from './user-truth';
import { Objective, OBJECTIVES } from '../world/schema';
import { trueProbabilities, trueUtility } from '../world/truth';

/** The cascade before several interests: one vector, no calibration. */
export const ONE_VECTOR: StageOptions = { max_interests: 1, calibration: 0 };

export const DEFAULT_CALIBRATIONS = [0, 0.25, 0.5, 0.75, 0.9, 0.95];

/** The main sample's configuration of the one-vector cascade (NDCG@50 over all sampled users). */
export function interestSpecs(): Spec[] {
  return [{ name: 'engine-one-vector', description: 'API: default knobs with max_interests 1 and calibration 0 (one user vector), exploration NONE', options: { ...NO_EXPLORATION, ...ONE_VECTOR } }];
}

const DIVERSITY_ROWS: { label: string; options: StageOptions }[] = [
  { label: 'none', options: { diversity: 'DIVERSITY_METHOD_NONE' } },
  { label: `MMR (λ ${DEFAULT_RANK.diversityLambda})`, options: { diversity: 'DIVERSITY_METHOD_MMR' } },
  { label: `DPP (λ ${DEFAULT_RANK.diversityLambda})`, options: { diversity: 'DIVERSITY_METHOD_DPP' } },
  { label: 'MMR λ 0.1', options: { diversity: 'DIVERSITY_METHOD_MMR', diversity_lambda: 0.1 } },
];

type Summary = ReturnType<typeof summariseInterestPages>;

/** The first n returning users with (two or more | exactly one) interest categories. */
function usersWith(s: EvalSession, several: boolean, n: number): number[] {
  const out: number[] = [];
  s.truth.users.info.forEach((u, i) => {
    if (out.length < n && u.segment === 'returning' && u.categories.length >= 2 === several) out.push(i);
  });
  return out;
}

/** One user's page through the API, home surface, exploration off: the returned rows. */
async function page(s: EvalSession, u: number, options: StageOptions, numResults: number): Promise<number[]> {
  const info = s.truth.users.info[u];
  const res = await s.client.rank({ user_id: info.id, context: { surface: WIRE_SURFACE.home, device: WIRE_DEVICE[info.device] }, num_results: numResults, options: { ...NO_EXPLORATION, ...options } });
  return toRows(s, res.items.map((it) => it.item_id));
}

/** Interest metrics of the users' top-20 pages. */
async function pages20(s: EvalSession, users: number[], options: StageOptions): Promise<{ summary: Summary; scores: InterestPageScore[] }> {
  const names = s.bundle.items.categoryNames;
  const scores: InterestPageScore[] = [];
  for (const u of users) {
    const rows = await page(s, u, options, 20);
    const info = s.truth.users.info[u];
    scores.push(scoreInterestPage(rows.map((r) => names[s.bundle.items.category[r]]), info.categories, info.weights));
  }
  return { summary: summariseInterestPages(scores), scores };
}

/**
 * A user's true weighted utility (home surface) of given rows, and the ideal
 * gains of the top 50 of the whole catalog (computed once per user: a scan
 * of every item).
 */
type TruthCache = (u: number) => { gains: (rows: number[]) => number[]; ideal: number[] };

function truthCache(s: EvalSession): TruthCache {
  const frame = truthFrame(s);
  const bw = s.bundle.manifest.defaultWeights.home;
  const weights = Object.fromEntries(OBJECTIVES.map((o) => [o, bw[o] ?? 0])) as Record<Objective, number>;
  const ideals = new Map<number, number[]>();
  return (u) => {
    const device = s.truth.users.info[u].device;
    let ideal = ideals.get(u);
    if (ideal === undefined) {
      const r = requestTruth(s, frame, u, 'home', device);
      ideals.set(u, (ideal = r.oracle.map((row) => r.utility[row])));
    }
    const gains = (rows: number[]) =>
      Array.from(trueUtility(trueProbabilities(s.truth.coefficients, s.truth.items, s.truth.users, u, Int32Array.from(rows), { surface: 'home', device }), weights));
    return { gains, ideal };
  };
}

/** Mean NDCG@50 (true weighted utility, home surface) of the users' 50-item pages. */
async function ndcg50(s: EvalSession, truth: TruthCache, users: number[], options: StageOptions): Promise<number> {
  let sum = 0;
  for (const u of users) {
    const rows = await page(s, u, options, NUM_RESULTS);
    const t = truth(u);
    sum += ndcgAt(t.gains(rows), t.ideal, 50);
  }
  return users.length > 0 ? sum / users.length : 0;
}

/**
 * What the users' histories can show (the last actions the engine reads,
 * weighted as interests.ts weighs them): the share of each user's true
 * interest categories with any weighted action, and the users whose history
 * holds one category of at least INTEREST_DEFAULTS.minShare.
 */
async function historyBound(s: EvalSession, users: number[]): Promise<EvalReport['interests']['history']> {
  const { engine } = s;
  const now = engine.now();
  let coverage = 0;
  let oneCategory = 0;
  for (const u of users) {
    const info = s.truth.users.info[u];
    const snap = await engine.store.snapshot(info.id, now);
    const w = actionWeights(snap, now, s.tower.maxActions, INTEREST_DEFAULTS.tauDays);
    const byCategory = new Map<string, number>();
    let total = 0;
    for (let i = 0; i < w.length; i++) {
      if (w[i] <= 0) continue;
      const c = s.bundle.items.categoryNames[s.bundle.items.category[snap.actionRows[i]]];
      byCategory.set(c, (byCategory.get(c) ?? 0) + w[i]);
      total += w[i];
    }
    coverage += info.categories.filter((c) => byCategory.has(c)).length / info.categories.length;
    if ([...byCategory.values()].filter((v) => v >= INTEREST_DEFAULTS.minShare * total).length <= 1) oneCategory++;
  }
  return { users: users.length, coverage: users.length > 0 ? coverage / users.length : 0, oneCategoryUsers: oneCategory };
}

/** The report's section; run on the default engine, before anything changes the users' state. */
export async function interestsSection(s: EvalSession, allUsersNdcg50: { engine: number; oneVector: number }): Promise<EvalReport['interests']> {
  const n = s.cfg.interestUsers ?? 200;
  const several = usersWith(s, true, n);
  const one = usersWith(s, false, n);
  const truth = truthCache(s);
  const table: EvalReport['interests']['table'] = [];
  for (const row of DIVERSITY_ROWS) {
    for (const [when, base] of [['before', ONE_VECTOR], ['after', {}]] as const) table.push({ diversity: row.label, when, ...(await pages20(s, several, { ...row.options, ...base })).summary });
  }
  const sweep: EvalReport['interests']['sweep'] = [];
  for (const w of s.cfg.calibrations ?? DEFAULT_CALIBRATIONS) {
    const options = { calibration: w };
    sweep.push({ calibration: w, ...(await pages20(s, several, options)).summary, ndcg50: await ndcg50(s, truth, several, options) });
  }
  const segment = async (users: number[]) => ({
    users: users.length,
    before: await ndcg50(s, truth, users, ONE_VECTOR),
    after: await ndcg50(s, truth, users, {}),
    beforePages: (await pages20(s, users, ONE_VECTOR)).summary,
    afterPages: (await pages20(s, users, {})).summary,
  });
  return {
    note: `top-20 pages (home surface, exploration NONE) of the first ${n} returning users with two or more interest categories, and of as many with one; before = max_interests 1, calibration 0; after = the defaults (max_interests ${DEFAULT_RANK.maxInterests}, calibration ${DEFAULT_RANK.calibration}); miscalibration = KL(p || 0.99 q + 0.01 p) of the page's category mix q against the user's true interest weights p`,
    table,
    sweep,
    history: await historyBound(s, several),
    several: await segment(several),
    one: await segment(one),
    allUsers: { ...allUsersNdcg50, ratio: allUsersNdcg50.oneVector > 0 ? allUsersNdcg50.engine / allUsersNdcg50.oneVector : 0 },
  };
}
