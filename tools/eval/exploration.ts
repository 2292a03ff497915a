// Exploration: epsilon-greedy with several epsilons (at the default start
// position) and start positions (at the default epsilon): the new-item share
// by position, new-item recall and the share placed by exploration.
import { DEFAULT_RANK } from '../../src/pipeline/options';
import { mean, pooledShare, shareByPosition } from './metrics';
import type { Collected, EvalSession, Spec } from './session';
import { ConfigResult, DEFAULT_EPSILONS, DEFAULT_EXPLORATION_STARTS, EvalConfig, EvalReport, ExplorationRow, NUM_RESULTS } from './types';

export const POSITION_BUCKETS: [number, number][] = [
  [0, 4],
  [4, 10],
  [10, 20],
  [20, 50],
];

/** The (epsilon, start) pairs tried: each epsilon at the default start, then each other start at the default epsilon. */
function explorationSettings(cfg: EvalConfig): { e: number; k: number }[] {
  const epsilons = cfg.epsilons ?? DEFAULT_EPSILONS;
  const starts = cfg.explorationStarts ?? DEFAULT_EXPLORATION_STARTS;
  return [
    ...epsilons.map((e) => ({ e, k: DEFAULT_RANK.explorationStart })),
    ...starts.filter((k) => k !== DEFAULT_RANK.explorationStart).map((k) => ({ e: DEFAULT_RANK.epsilon, k })),
  ];
}

const explorationName = (e: number, k: number) => `explore-e${e}-k${k}`;

export function explorationSpecs(cfg: EvalConfig): Spec[] {
  return explorationSettings(cfg).map(({ e, k }): Spec => ({
    name: explorationName(e, k),
    description: `API: default knobs, epsilon-greedy exploration, exploration_epsilon ${e}, exploration_start ${k}`,
    options: { exploration: 'EXPLORATION_METHOD_EPSILON_GREEDY', exploration_epsilon: e, exploration_start: k },
  }));
}

/** The report's exploration section: a row per setting, and the new items' share of the catalog and of the oracle lists. */
export function explorationSection(s: EvalSession, c: Collected, configs: Record<string, ConfigResult>): EvalReport['exploration'] {
  const rows = explorationSettings(s.cfg).map(({ e, k }): ExplorationRow => {
    const name = explorationName(e, k);
    const pos = shareByPosition(c.samples.get(name)!.map((x) => x.newFlags), NUM_RESULTS);
    const r = configs[name];
    return {
      name,
      epsilon: e,
      start: k,
      ndcg50: r.ndcg50Ci,
      newShare: r.newShare,
      newRecall50: r.newRecall50,
      explorationShare: r.explorationShare ?? 0,
      newByPosition: pos.share,
      newByBucket: POSITION_BUCKETS.map(([a, b]) => ({ positions: `${a + 1}-${b}`, share: pooledShare(pos, a, b) })),
    };
  });
  const newItemDays = s.bundle.manifest.features.newItemDays;
  return {
    note:
      `default knobs with epsilon-greedy exploration; "new" = created within the bundle's newItemDays (${newItemDays}) before the engine's clock (newItemMask); ` +
      'new recall = share of the user\'s 50 best new items (by true utility) that the list contains',
    newItemDays,
    catalogNewShare: c.frame.newRows.length / Math.max(1, s.bundle.items.n),
    oracleNewShare: mean(c.oracleScores.map((x) => x.newShare)),
    rows,
  };
}
