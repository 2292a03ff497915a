// The cost of the approximate index search (ANN): one engine per index search
// setting (EngineOptions.search, sharing the default engine's user state), all
// served in turn by the same RankingService; final NDCG@50 through the API.
// Retrieval recall@K of the same index search (the bundle's index, the
// setting's nprobe / efSearch) against the exact top K by inner product over
// every catalog row (native scoreRows + topK), for the user embedding the
// engine computes (the bundle's user tower over the user's stored actions; the
// report checks it against the light scores the API returns).
import type { RankResponse__Output } from '../../src/client';
import { scoreRows, topK } from '../../src/native';
import { mean, meanInterval, recallAt, recallOfTop } from './metrics';
import { emptyRetrieval, idsToRows, recordColdRetrieval, recordWarmRetrieval, retrievalSizes } from './retrieval';
import type { EvalSession, SearchStats, Spec } from './session';
import { AnnPoint, ConfigResult, EvalReport, NO_EXPLORATION, SearchSetting } from './types';

type IndexDefaults = { factory: string; nprobe?: number; efSearch?: number };

/**
 * Index search settings worth comparing for the bundle's index: for IVF
 * (factory "IVF<nlist>,...") nprobe 1, 4, 16, 64, half, once and twice the
 * bundle's nprobe, and nlist (every list: exact up to ties); for HNSW efSearch
 * 16 .. 512 and the bundle's; otherwise (Flat) the one exact setting.
 */
export function searchGrid(index: IndexDefaults): SearchSetting[] {
  const ivf = /IVF(\d+)/.exec(index.factory);
  const uniq = (xs: number[], max: number) => [...new Set(xs.filter((x) => Number.isInteger(x) && x >= 1 && x <= max))].sort((a, b) => a - b);
  if (ivf) {
    const nlist = Number(ivf[1]);
    const d = index.nprobe ?? 1;
    return uniq([1, 4, 16, 64, Math.floor(d / 2), d, 2 * d, nlist], nlist).map((nprobe) => ({ nprobe }));
  }
  if (/HNSW/.test(index.factory)) {
    const d = index.efSearch ?? 16;
    return uniq([16, 32, 64, 128, 256, 512, d], 1 << 20).map((efSearch) => ({ efSearch }));
  }
  return [{}];
}

export function searchLabel(s: SearchSetting): string {
  if (s.nprobe !== undefined) return `nprobe ${s.nprobe}`;
  if (s.efSearch !== undefined) return `efSearch ${s.efSearch}`;
  return 'exact';
}

/** Whether a setting is the bundle's own (what the default engine searches with). */
export function isDefaultSetting(index: IndexDefaults, s: SearchSetting): boolean {
  return (s.nprobe ?? index.nprobe) === index.nprobe && (s.efSearch ?? index.efSearch) === index.efSearch;
}

/** The key of the engine that searches with a setting: the default engine for the bundle's own. */
export function searchEngineKey(index: IndexDefaults, s: SearchSetting): string {
  return isDefaultSetting(index, s) ? 'default' : `search ${searchLabel(s)}`;
}

const annName = (s: SearchSetting) => `ann-${searchLabel(s).replace(' ', '-')}`;

/** One configuration per setting of the grid: default knobs, exploration NONE, from that setting's engine. */
export function annSpecs(s: EvalSession): Spec[] {
  const idx = s.bundle.manifest.index;
  return s.grid.map((g): Spec => ({
    name: annName(g),
    description: `API: default knobs, exploration NONE; engine with index search ${searchLabel(g)}${isDefaultSetting(idx, g) ? ' (the bundle default)' : ''}`,
    options: { ...NO_EXPLORATION },
    engine: searchEngineKey(idx, g),
  }));
}

/** No measurement yet, a point per setting of the session's grid. */
export function emptySearchStats(s: EvalSession): SearchStats {
  return {
    points: s.grid.map(() => ({ recallK: [], recall50: [], truth: [], ms: [] })),
    coldUsers: 0,
    embCheck: { items: 0, maxAbsDiff: 0 },
    retrieval: emptyRetrieval(),
  };
}

/**
 * Retrieval recall for one request: the index search at every setting vs the
 * exact top K for the user embedding the engine computes, and the candidates
 * vs the truth (a cold user has no embedding: popular items). `engineResponse`
 * (the 'engine' configuration's) checks the embedding against its light scores.
 */
export async function measureSearch(
  s: EvalSession,
  stats: SearchStats,
  user: { id: string; surface: string },
  utility: Float32Array,
  allRows: Int32Array,
  engineResponse: RankResponse__Output | null,
): Promise<void> {
  const { bundle, engine } = s;
  const { K, topN } = retrievalSizes(bundle.items.n);
  const now = engine.now();
  const emb = (await s.tower.embed(await engine.store.snapshot(user.id, now), engine.catalog, now)).embedding;
  const trueTop = Array.from(topK(utility, topN));
  if (!emb.some((v) => v !== 0)) {
    stats.coldUsers++;
    recordColdRetrieval(s, stats.retrieval, trueTop);
    return;
  }
  if (engineResponse) checkEmbedding(s, stats.embCheck, engineResponse, emb);
  const dots = scoreRows(bundle.embeddings, bundle.manifest.embeddingDim, allRows, emb);
  const exact = Array.from(topK(dots, K));
  const defaultGot = await searchEverySetting(s, stats, emb, exact, trueTop);
  await recordWarmRetrieval(s, stats.retrieval, { emb, dots, exact, defaultGot }, trueTop, user.surface);
}

/** The index search at every setting of the grid; returns the rows found at the default setting (null: not in the grid). */
async function searchEverySetting(s: EvalSession, stats: SearchStats, emb: Float32Array, exact: number[], trueTop: number[]): Promise<number[] | null> {
  const idx = s.bundle.manifest.index;
  const { K, topN } = retrievalSizes(s.bundle.items.n);
  let defaultGot: number[] | null = null;
  for (let g = 0; g < s.grid.length; g++) {
    const p = stats.points[g];
    const t = process.hrtime.bigint();
    const hits = await s.bundle.index.search(emb, { k: K, nprobe: s.grid[g].nprobe ?? idx.nprobe, efSearch: s.grid[g].efSearch ?? idx.efSearch });
    p.ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    const got = idsToRows(hits.ids);
    p.recallK.push(recallAt(got, exact, K));
    p.recall50.push(recallAt(got, exact, Math.min(50, K)));
    p.truth.push(recallOfTop(got, trueTop, topN));
    if (defaultGot === null && isDefaultSetting(idx, s.grid[g])) defaultGot = got;
  }
  return defaultGot;
}

/**
 * Compares the light scores of a response with <embedding, item> + the bias
 * term (a user with several interests is scored per interest: not checked).
 */
function checkEmbedding(s: EvalSession, check: SearchStats['embCheck'], res: RankResponse__Output, emb: Float32Array): void {
  const { bundle } = s;
  const biasWeight = bundle.manifest.lightModel?.biasWeight ?? 0;
  if (res.items.some((it) => it.interest > 0)) return;
  const checked = res.items.filter((it) => it.stage_scores.some((x) => x.stage === 'light'));
  const rows = Int32Array.from(checked, (it) => bundle.items.rowOf.get(it.item_id)!);
  const dots = scoreRows(bundle.embeddings, bundle.manifest.embeddingDim, rows, emb);
  checked.forEach((it, i) => {
    const light = it.stage_scores.find((x) => x.stage === 'light')!.score;
    const d = Math.abs(light - (dots[i] + biasWeight * bundle.bias[rows[i]]));
    if (d > check.maxAbsDiff) check.maxAbsDiff = d;
  });
  check.items += checked.length;
}

/** The report's ANN section: the curve over the grid and the target at the default setting. */
export function annSection(s: EvalSession, stats: SearchStats, configs: Record<string, ConfigResult>, users: number): EvalReport['ann'] {
  const idx = s.bundle.manifest.index;
  const n = s.bundle.items.n;
  const { K } = retrievalSizes(n);
  const curve: AnnPoint[] = s.grid.map((g, i) => {
    const c = configs[annName(g)];
    const p = stats.points[i];
    return {
      label: searchLabel(g),
      nprobe: g.nprobe ?? null,
      efSearch: g.efSearch ?? null,
      isDefault: isDefaultSetting(idx, g),
      recallAtK: meanInterval(p.recallK),
      recallAt50: meanInterval(p.recall50),
      truthRecall: meanInterval(p.truth),
      searchMs: mean(p.ms),
      ndcg50: c.ndcg50Ci,
      retrievalMs: c.retrievalMs,
    };
  });
  const defaultRecall = curve.find((p) => p.isDefault)?.recallAtK.mean ?? null;
  return {
    note:
      `recall@${K}: the index search (the bundle's index, each setting) vs the exact top ${K} by inner product over all ${n} rows (native scoreRows + topK), ` +
      'for the user embedding of the bundle\'s user tower over the user\'s stored actions (what the engine computes; checked against the light scores the API returns); ' +
      'cold users (no actions, zero embedding: the engine serves popular items) are skipped. NDCG@50: the final list through the API from an engine with that setting, default knobs, exploration NONE',
    k: K,
    usersMeasured: users - stats.coldUsers,
    coldUsersSkipped: stats.coldUsers,
    embeddingCheck: stats.embCheck,
    curve,
    defaultRecallAtK: defaultRecall,
    targets: { recallAtLeast: 0.95, onWorldItems: 1_000_000, thisWorldItems: n, met: defaultRecall === null || n < 1_000_000 ? null : defaultRecall >= 0.95 },
  };
}
