// The quality evaluator: serves the real engine through its gRPC API (a
// RankingService on 127.0.0.1, ephemeral port, in this process) and calls it
// with a grpc-js client, as a user would; scores every returned list against
// the world's ground truth (the true weighted utility of every item for the
// user, surface and device, with the surface's default objective weights).
//
// The oracle list is the catalog's top items by true utility. The report's
// sections and where they are measured:
//   baselines    random, popularity, two-tower and no-shortcuts (baselines.ts);
//   objectives   every list also scored per objective o of the bundle: the
//                gain is the true P(o), the oracle ranks by P(o) (user-truth.ts);
//   ANN          the index search settings: recall against the exact top K
//                and the final NDCG of an engine per setting (ann.ts);
//   retrieval    the candidates against the user's true top items (retrieval.ts);
//   HAP          heavy budgets, and HAP routing beside top-B routing (hap.ts);
//   diversity    MMR and DPP at several lambdas (diversity.ts);
//   interests    users with several interests: their pages before and after
//                retrieval per interest and calibration, the calibration
//                weight swept (interests.ts);
//   exploration  epsilon-greedy with several epsilons and start positions:
//                new-item share by position, new-item recall (exploration.ts);
//   precision    rankers in fp32 beside each reduced precision, the same
//                requests (precision-runs.ts, precision.ts);
//   reactivity   after all the above: a burst of RecordEvents between two
//                Rank calls of the same user (reactivity.ts).
import { execFileSync } from 'node:child_process';

import { DEFAULT_RANK } from '../../src/pipeline/options';
import { annSection, annSpecs } from './ann';
import { baselineSpecs, headlineSection, noShortcutsSpec } from './baselines';
import { configResults, perRequestNdcg50 } from './configs';
import { diversitySection, diversitySpecs } from './diversity';
import { explorationSection, explorationSpecs } from './exploration';
import { hapSection, hapSpecs } from './hap';
import { interestSpecs, interestsSection } from './interests';
import { precisionReport, precisionSpecs } from './precision-runs';
import { measureReactivity } from './reactivity';
import { retrievalSection } from './retrieval';
import { collectSamples } from './sample';
import { withSession } from './serve';
import type { EvalSession, Spec } from './session';
import { EvalConfig, EvalReport, NUM_RESULTS } from './types';
import { objectivesSection, oracleCheck } from './user-truth';

export { searchGrid, searchLabel } from './ann';
export { paretoFront } from './diversity';
export { POSITION_BUCKETS } from './exploration';
export { sampleUsers } from './sample';
export { DEFAULT_BUDGETS, DEFAULT_EPSILONS, DEFAULT_EXPLORATION_STARTS, DEFAULT_LAMBDAS, DEFAULT_ROUTING_BUDGETS, EVAL_SURFACES, NUM_RESULTS, REFERENCE_K, TRUE_TOP_N } from './types';
export type { AnnPoint, ConfigResult, EvalConfig, EvalReport, ExplorationRow, ListScores, SearchSetting } from './types';

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Every configuration of the report, in the order each user's requests are sent. */
function configurations(s: EvalSession): Spec[] {
  return [...baselineSpecs(), ...interestSpecs(), ...precisionSpecs(s), noShortcutsSpec(s), ...hapSpecs(s.cfg), ...annSpecs(s), ...explorationSpecs(s.cfg), ...diversitySpecs(s.cfg)];
}

/** The world the report was measured on. */
function worldSection(s: EvalSession): EvalReport['world'] {
  const idx = s.bundle.manifest.index;
  return {
    root: s.cfg.root,
    bundle: `${s.bundle.manifest.name} ${s.bundle.manifest.version}`,
    items: s.bundle.items.n,
    users: s.truth.users.n,
    dim: s.bundle.manifest.embeddingDim,
    seed: s.cfg.world.seed,
    index: { factory: idx.factory, nprobe: idx.nprobe ?? null, efSearch: idx.efSearch ?? null },
  };
}

export async function runEval(cfg: EvalConfig): Promise<EvalReport> {
  const t0 = Date.now();
  const uncommittedChanges = (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  return withSession(cfg, async (s) => {
    const specs = configurations(s);
    const c = await collectSamples(s, specs);
    const configs = configResults(specs, c);
    s.use('default');
    const interests = await interestsSection(s, { engine: configs.engine.ndcg50, oneVector: configs['engine-one-vector'].ndcg50 });
    // Reactivity, last: it changes the users' state.
    const reactivity = await measureReactivity(s, c.users);
    const perRequest = perRequestNdcg50(c);
    return {
      command: cfg.command,
      date: new Date().toISOString(),
      commit: git(['rev-parse', 'HEAD']) ?? 'unknown',
      uncommittedChanges,
      world: worldSection(s),
      sample: { users: c.users.length, segments: c.segments, surfaces: c.surfaces, seed: cfg.seed },
      numResults: NUM_RESULTS,
      defaults: DEFAULT_RANK,
      oracleCheck: oracleCheck(c.oracleScores),
      configs,
      objectives: objectivesSection(c.frame.objNames, c.weightedOracle, c.objSelf),
      retrieval: retrievalSection(s, c.search.retrieval, c.search.coldUsers, c.surfaces),
      headline: headlineSection(cfg, configs, perRequest),
      ann: annSection(s, c.search, configs, c.users.length),
      hap: hapSection(cfg, configs, perRequest),
      diversity: diversitySection(cfg, configs),
      interests,
      exploration: explorationSection(s, c, configs),
      reactivity,
      precision: precisionReport(s, c),
      seconds: (Date.now() - t0) / 1000,
    };
  });
}
