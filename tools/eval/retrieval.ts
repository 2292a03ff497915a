// Retrieval against the truth: the index search at the default setting, of
// the user's true top TRUE_TOP_N items by true weighted utility, the share
// among the K candidates (also with the fresh source's picks added, as the
// engine does, and for the exact top K and top REFERENCE_K by inner product);
// cold users: the popular top K plus fresh picks.
import { scoreRows, topK } from '../../src/native';
import { DEFAULT_RANK } from '../../src/pipeline/options';
import { groupMeans, meanInterval, recallOfTop } from './metrics';
import type { EvalSession, RetrievalStats } from './session';
import { EVAL_SURFACES, EvalReport, REFERENCE_K, TRUE_TOP_N } from './types';

/** K of the engine's retrieval, K of the no-shortcuts reference and the true top N, for a catalog of n items. */
export function retrievalSizes(n: number): { K: number; refK: number; topN: number } {
  return { K: Math.min(DEFAULT_RANK.retrievalK, n), refK: Math.min(REFERENCE_K, n), topN: Math.min(TRUE_TOP_N, n) };
}

/** Catalog rows from the int64 ids of an index search (-1 ends the list). */
export function idsToRows(ids: BigInt64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const r = Number(ids[i]);
    if (r < 0) break;
    out.push(r);
  }
  return out;
}

export function emptyRetrieval(): RetrievalStats {
  return { index: [], plusFresh: [], exact: [], exactRef: [], cold: [], surface: [] };
}

/**
 * The fresh source as the retrieval stage builds it: the newest rows (up to
 * freshPool) not already retrieved, the best freshKeep by <embedding, item>
 * (by bias for a cold user).
 */
function freshPicks(s: EvalSession, found: number[], emb: Float32Array | null): number[] {
  const { engine, bundle, base } = s;
  const have = new Set(found);
  const fresh = Int32Array.from(engine.catalog.freshRows(engine.now(), base.freshPool).filter((r) => !have.has(r) && engine.catalog.alive[r] === 1));
  if (fresh.length === 0 || base.freshKeep <= 0) return [];
  const sc = emb === null ? Float32Array.from(fresh, (r) => bundle.bias[r]) : scoreRows(bundle.embeddings, bundle.manifest.embeddingDim, fresh, emb);
  return Array.from(topK(sc, base.freshKeep), (i) => fresh[i]);
}

/** A cold user (zero embedding): the popular top K plus the fresh picks by bias. */
export function recordColdRetrieval(s: EvalSession, stats: RetrievalStats, trueTop: number[]): void {
  const { K, topN } = retrievalSizes(s.bundle.items.n);
  const popularK = Array.from(topK(s.bundle.bias, K));
  stats.cold.push(recallOfTop([...popularK, ...freshPicks(s, popularK, null)], trueTop, topN));
}

/**
 * A warm user: the index search at the default setting (searched here when
 * the grid lacks it), with the fresh picks, and the exact top K and top
 * REFERENCE_K by inner product (`dots`: over every row).
 */
export async function recordWarmRetrieval(
  s: EvalSession,
  stats: RetrievalStats,
  found: { emb: Float32Array; dots: Float32Array; exact: number[]; defaultGot: number[] | null },
  trueTop: number[],
  surface: string,
): Promise<void> {
  const idx = s.bundle.manifest.index;
  const { K, refK, topN } = retrievalSizes(s.bundle.items.n);
  const { emb, dots, exact } = found;
  const got = found.defaultGot ?? idsToRows((await s.bundle.index.search(emb, { k: K, nprobe: idx.nprobe, efSearch: idx.efSearch })).ids);
  stats.index.push(recallOfTop(got, trueTop, topN));
  stats.plusFresh.push(recallOfTop([...got, ...freshPicks(s, got, emb)], trueTop, topN));
  stats.exact.push(recallOfTop(exact, trueTop, topN));
  stats.exactRef.push(recallOfTop(refK === K ? exact : topK(dots, refK), trueTop, topN));
  stats.surface.push(surface);
}

/** The report's retrieval section. */
export function retrievalSection(s: EvalSession, stats: RetrievalStats, coldUsers: number, surfaces: Record<string, number>): EvalReport['retrieval'] {
  const { K, refK, topN } = retrievalSizes(s.bundle.items.n);
  const { freshKeep, freshPool } = s.base;
  const bySurface = groupMeans(stats.index, stats.surface, EVAL_SURFACES.filter((v) => v in surfaces));
  return {
    note:
      `of each user's true top ${topN} items (by true weighted utility for the request's surface and device), the share among the retrieved candidates. ` +
      `Warm users: the K = ${K} rows of the index search at the bundle's default setting for the engine's user embedding (computed in the evaluator as for the ANN curve: the API does not return the candidates), ` +
      `then with the fresh source's picks added (up to ${freshKeep} of the ${freshPool} newest rows, by <embedding, item>), as the retrieval stage does; ` +
      `beside them the exact top ${K} and top ${refK} (the no-shortcuts K) by inner product. Cold users (zero embedding): the popular top ${K} plus fresh picks by bias`,
    trueTopN: topN,
    k: K,
    freshKeep,
    warmUsers: stats.index.length,
    coldUsers,
    index: meanInterval(stats.index),
    indexPlusFresh: meanInterval(stats.plusFresh),
    exact: meanInterval(stats.exact),
    exactReference: { k: refK, recall: meanInterval(stats.exactRef) },
    coldPopularPlusFresh: stats.cold.length > 0 ? meanInterval(stats.cold) : null,
    indexBySurface: Object.fromEntries(Object.entries(bySurface).map(([k, v]) => [k, { users: v.n, recall: v.mean }])),
  };
}
