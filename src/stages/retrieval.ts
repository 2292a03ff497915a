// Stage 3: candidates. Re-rank mode takes the caller's ids. Otherwise FAISS
// top-K for the user embedding, or for a user with several interests one
// search per interest in one batched call, K split by the interests' shares
// (restricted to the request's category, never returning excluded or deleted
// items), merged with the fresh-items source:
// the newest items (within the bundle's new-item window) with the best light
// score. A cold user (zero embedding) gets the most popular items instead.
import * as os from 'node:os';

import { scoreRows, topK } from '../native';
import type { SearchResult } from '../native';
import { interestNprobes, splitK } from '../models/interests';
import { allocCandidates, recordTrail, userEmbOf } from '../pipeline/context';
import type { RankContext, Stage } from '../pipeline/context';
import type { Candidates } from '../pipeline/types';
import { PROVENANCE } from '../pipeline/types';

const LITTLE_ENDIAN = os.endianness() === 'LE';


/** Candidates for the concatenated row lists (copied), each list with its provenance and retrieval scores. */
function build(rowsFrom: ArrayLike<number>[], provenance: number[], scoresFrom: (ArrayLike<number> | null)[]): Candidates {
  let n = 0;
  for (const r of rowsFrom) n += r.length;
  const c = allocCandidates(n);
  let at = 0;
  rowsFrom.forEach((r, i) => {
    c.rows.set(r, at);
    c.provenance.fill(provenance[i], at, at + r.length);
    const s = scoresFrom[i];
    if (s) c.scores.set(s, at);
    at += r.length;
  });
  return c;
}

/**
 * The `keep` rows with the best scores among those `accept` takes, best
 * first, ties by position: the same as filtering first and taking the top,
 * but the filter only runs on the best few (2 x keep + 16 by score, or all
 * of them when those hold too few accepted rows).
 */
export function pickBest(rows: Int32Array, scores: Float32Array, keep: number, accept: (row: number) => boolean, outScores?: Float32Array): Int32Array {
  const n = rows.length;
  const out = new Int32Array(Math.min(keep, n));
  let got = 0;
  for (const k of n > 2 * keep + 16 ? [2 * keep + 16, n] : [n]) {
    got = 0;
    const order = topK(scores, k);
    for (let i = 0; i < order.length && got < keep; i++) {
      const r = rows[order[i]];
      if (accept(r)) {
        if (outScores) outScores[got] = scores[order[i]];
        out[got++] = r;
      }
    }
    if (got === out.length || k === n) break;
  }
  return out.subarray(0, got);
}

let identity = new Int32Array(0);
/** 0, 1, ..., n - 1 (shared; read-only). */
function identityRows(n: number): Int32Array {
  if (identity.length < n) identity = Int32Array.from({ length: Math.max(n, 2 * identity.length) }, (_, i) => i);
  return identity.subarray(0, n);
}

function usable(ctx: RankContext, row: number): boolean {
  return ctx.deps.catalog.alive[row] === 1 && !ctx.input.options.exclude.has(row);
}

/** Rows and their retrieval scores (higher is better). */
interface Scored {
  rows: Int32Array;
  scores: Float32Array;
}

function popularRows(ctx: RankContext, k: number): Scored {
  const { catalog, popular } = ctx.deps;
  const cat = ctx.input.category;
  const out = new Int32Array(Math.min(k, popular.length));
  let n = 0;
  for (let i = 0; i < popular.length && n < k; i++) {
    const r = popular[i];
    if (usable(ctx, r) && (cat === undefined || catalog.category[r] === cat)) out[n++] = r;
  }
  const rows = out.subarray(0, n);
  return { rows, scores: Float32Array.from(rows, (r) => catalog.cols.bias[r]) };
}

/** The index search of `queries` (nq x dim) for k results each, synchronously when it is small enough. */
async function search(ctx: RankContext, queries: Float32Array, k: number | Int32Array, nprobe: number | Int32Array | undefined = ctx.deps.nprobe): Promise<{ hits: SearchResult; settled: boolean }> {
  const { catalog } = ctx.deps;
  const exclude = ctx.input.options.exclude;
  const ndeny = exclude.size + catalog.tombstones.length;
  let denyIds: BigInt64Array | undefined;
  if (ndeny > 0) {
    denyIds = new BigInt64Array(ndeny);
    let j = 0;
    for (const r of exclude) denyIds[j++] = BigInt(r);
    for (const r of catalog.tombstones) denyIds[j++] = BigInt(r);
  }
  // The search itself drops deleted rows and repeated ids (an HNSW index keeps
  // an updated item's old vector too), off the event loop. If the catalog
  // changed while it ran, the rows are checked again by the caller.
  const opts = {
    k,
    nprobe,
    efSearch: ctx.deps.efSearch,
    refine: ctx.deps.refine,
    allowBitmap: ctx.input.category === undefined ? undefined : catalog.categoryBitmap(ctx.input.category),
    denyIds,
    alive: catalog.alive,
    unique: true,
  };
  const version = catalog.version;
  // Small IVF scans run here: a hop to a libuv thread and back costs more.
  const frac = ctx.deps.ivfScanFraction;
  // The lists all queries visit, in units of one search at the default nprobe.
  let searches = queries.length / catalog.dim;
  if (nprobe instanceof Int32Array && ctx.deps.nprobe) searches = nprobe.reduce((a, b) => a + b, 0) / ctx.deps.nprobe;
  const bytes = frac === null ? Infinity : searches * frac * catalog.size * ctx.deps.ivfCodeBytes;
  let hits = bytes <= ctx.deps.syncSearchMaxBytes ? catalog.index.searchSync(queries, opts) : null;
  hits ??= await catalog.index.search(queries, opts);
  return { hits, settled: catalog.version === version };
}

/** The row of result i (-1: none): the low 32 bits of the little-endian int64 id, without a BigInt. */
function rowAt(ids: BigInt64Array, words: Int32Array, i: number): number {
  return LITTLE_ENDIAN ? words[2 * i] : Number(ids[i]);
}

/**
 * The rows of a search's results, checked again (alive, not excluded, each
 * row once): query q's results give at most ks[q] rows not given by a
 * query before it. `from` is each row's query.
 */
function collect(ctx: RankContext, hits: SearchResult, ks: ArrayLike<number>): Scored & { from: Uint8Array } {
  const { catalog, marks } = ctx.deps;
  const k = hits.k;
  const words = new Int32Array(hits.ids.buffer, hits.ids.byteOffset, hits.ids.length * 2);
  let total = 0;
  for (let q = 0; q < ks.length; q++) total += ks[q];
  const out = new Int32Array(total);
  const scores = new Float32Array(total);
  const from = new Uint8Array(total);
  // The search's score, higher is better: the inner product, or minus the L2 distance.
  const sign = catalog.index.metric === 'l2' ? -1 : 1;
  const exclude = ctx.input.options.exclude;
  let n = 0;
  marks.clear();
  for (let q = 0; q < ks.length; q++) {
    let taken = 0;
    for (let i = q * k; i < (q + 1) * k && taken < ks[q]; i++) {
      const r = rowAt(hits.ids, words, i);
      if (r < 0) break;
      if (catalog.alive[r] !== 1 || marks.has(r) || exclude.has(r)) continue;
      marks.add(r);
      scores[n] = sign * hits.distances[i];
      from[n] = q;
      out[n++] = r;
      taken++;
    }
  }
  return { rows: out.subarray(0, n), scores: scores.subarray(0, n), from: from.subarray(0, n) };
}

/**
 * One search per interest in one call, each for its part of K at an nprobe
 * scaled to it (interestNprobes): interest q keeps the rows of its best
 * ks[q] not found by an interest before it. `from` is each row's interest.
 */
async function interestRows(ctx: RankContext, queries: Float32Array, ks: Int32Array, K: number): Promise<Scored & { from: Uint8Array }> {
  const { hits } = await search(ctx, queries, ks, interestNprobes(ctx.deps.nprobe, ks, K));
  return collect(ctx, hits, ks);
}

async function annRows(ctx: RankContext, k: number): Promise<Scored> {
  const { hits, settled } = await search(ctx, userEmbOf(ctx), k);
  // The search already dropped deleted and repeated rows: unless the catalog
  // changed meanwhile, only the request's exclusions are left to check.
  if (!settled || !LITTLE_ENDIAN) return collect(ctx, hits, [k]);
  // Ids are catalog rows (< 2^31): read the low 32 bits of each little-endian
  // int64 instead of converting BigInts; -1 (no result) reads as -1 too.
  const words = new Int32Array(hits.ids.buffer, hits.ids.byteOffset, hits.ids.length * 2);
  const out = new Int32Array(hits.ids.length);
  const scores = new Float32Array(hits.ids.length);
  const sign = ctx.deps.catalog.index.metric === 'l2' ? -1 : 1;
  const exclude = ctx.input.options.exclude;
  const checkExclude = exclude.size > 0;
  let n = 0;
  for (let i = 0; i < hits.ids.length; i++) {
    const r = words[2 * i];
    if (r < 0) break;
    if (checkExclude && exclude.has(r)) continue;
    scores[n] = sign * hits.distances[i];
    out[n++] = r;
  }
  return { rows: out.subarray(0, n), scores: scores.subarray(0, n) };
}

export const retrievalStage: Stage = {
  id: 'retrieval',
  degrade: [
    {
      step: 'smaller_k',
      order: 1,
      // A quarter of K, at least 5 x num_results; not in re-rank mode.
      apply(input) {
        const o = input.options;
        const K = o.retrievalK;
        if (input.candidateRows || K <= 5 * input.numResults) return null;
        const k = Math.max(5 * input.numResults, Math.floor(K / 4));
        return { ...input, options: { ...o, retrievalK: k, prerankKeep: Math.min(o.prerankKeep, k) } };
      },
      saves: (cost) => 0.5 * (cost('retrieval') + cost('prerank')),
    },
  ],
  // Debug scores: the search's score of each retrieved item, the popularity
  // bias of the popular ones, the light score of the fresh ones; none for
  // the caller's own candidates.
  ownTrail: true,
  async run(ctx: RankContext): Promise<Candidates> {
    const { input, deps } = ctx;
    if (input.candidateRows) {
      const rows = input.candidateRows.filter((r) => usable(ctx, r));
      ctx.note = `re-rank mode: ${rows.length} provided`;
      return build([rows], [PROVENANCE.provided], [null]);
    }
    const K = input.options.retrievalK;
    const cold = !userEmbOf(ctx).some((v) => v !== 0);
    const interests = cold ? null : ctx.interests;
    let found: Int32Array;
    let foundScores: Float32Array;
    if (interests) {
      const r = await interestRows(ctx, interests.vectors, splitK(K, interests.shares), K);
      ({ rows: found, scores: foundScores } = r);
      if (ctx.interestOf) for (let i = 0; i < found.length; i++) ctx.interestOf.set(found[i], r.from[i]);
    } else ({ rows: found, scores: foundScores } = cold ? popularRows(ctx, K) : await annRows(ctx, K));
    // Fresh source: newest items, best light score first, not already
    // retrieved. All of the newest are scored (one streamed block), then the
    // best are taken in score order, skipping retrieved and excluded rows:
    // the same picks as filtering first, with the usual tie order (position).
    const { marks } = deps;
    marks.clear();
    for (let i = 0; i < found.length; i++) marks.add(found[i]);
    const fresh = deps.catalog.freshBlock(ctx.now, deps.freshPool, input.category);
    const nf = fresh.rows.length;
    let picks: Int32Array = new Int32Array(0);
    const pickScores = new Float32Array(Math.min(nf, deps.freshKeep));
    if (nf > 0 && deps.freshKeep > 0) {
      const s = cold ? Float32Array.from(fresh.rows, (r) => deps.catalog.cols.bias[r]) : scoreRows(fresh.emb, deps.catalog.dim, identityRows(nf), userEmbOf(ctx));
      picks = pickBest(fresh.rows, s, deps.freshKeep, (r) => !marks.has(r) && usable(ctx, r), pickScores);
    }
    const source = cold ? 'popular (cold user)' : interests ? `ann over ${interests.count} interests` : 'ann';
    ctx.note = `${source} ${found.length} + fresh ${picks.length}`;
    const out = build([found, picks], [PROVENANCE.retrieved, PROVENANCE.fresh], [foundScores, pickScores.subarray(0, picks.length)]);
    recordTrail(ctx, 'retrieval', out);
    return out;
  },
};
