// Stage 3: candidates. Re-rank mode takes the caller's ids. Otherwise FAISS
// top-K for the user embedding (restricted to the request's category, never
// returning excluded or deleted items), merged with the fresh-items source:
// the newest items (within the bundle's new-item window) with the best light
// score. A cold user (zero embedding) gets the most popular items instead.
import * as os from 'node:os';

import { scoreRows, topK } from '../../native';
import type { RankContext, Stage } from '../context';
import type { Candidates } from '../types';
import { PROVENANCE } from '../types';

const LITTLE_ENDIAN = os.endianness() === 'LE';

function build(rows: number[], provenance: number[]): Candidates {
  return {
    rows: Int32Array.from(rows),
    scores: new Float32Array(rows.length),
    provenance: Uint8Array.from(provenance),
    strong: new Uint8Array(rows.length),
  };
}

function usable(ctx: RankContext, row: number): boolean {
  return ctx.deps.catalog.alive[row] === 1 && !ctx.input.options.exclude.has(row);
}

function popularRows(ctx: RankContext, k: number): number[] {
  const { catalog, popular } = ctx.deps;
  const cat = ctx.input.category;
  const out: number[] = [];
  for (let i = 0; i < popular.length && out.length < k; i++) {
    const r = popular[i];
    if (usable(ctx, r) && (cat === undefined || catalog.category[r] === cat)) out.push(r);
  }
  return out;
}

async function annRows(ctx: RankContext, k: number): Promise<number[]> {
  const { catalog } = ctx.deps;
  const deny = [...ctx.input.options.exclude, ...catalog.tombstones];
  const hits = await catalog.index.search(ctx.userEmb!, {
    k,
    nprobe: ctx.deps.nprobe,
    efSearch: ctx.deps.efSearch,
    allowBitmap: ctx.input.category === undefined ? undefined : catalog.categoryBitmap(ctx.input.category),
    denyIds: deny.length > 0 ? BigInt64Array.from(deny, (r) => BigInt(r)) : undefined,
  });
  const out: number[] = [];
  const seen = new Set<number>(); // an HNSW index keeps an updated item's old vector too
  // Ids are catalog rows (< 2^31): read the low 32 bits of each little-endian
  // int64 instead of converting BigInts; -1 (no result) reads as -1 too.
  const words = new Int32Array(hits.ids.buffer, hits.ids.byteOffset, hits.ids.length * 2);
  for (let i = 0; i < hits.ids.length; i++) {
    const r = LITTLE_ENDIAN ? words[2 * i] : Number(hits.ids[i]);
    if (r < 0) break;
    if (usable(ctx, r) && !seen.has(r)) {
      seen.add(r);
      out.push(r);
    }
  }
  return out;
}

export const retrievalStage: Stage = {
  id: 'retrieval',
  async run(ctx: RankContext): Promise<Candidates> {
    const { input, deps } = ctx;
    if (input.candidateRows) {
      const rows = Array.from(input.candidateRows).filter((r) => usable(ctx, r));
      ctx.note = `re-rank mode: ${rows.length} provided`;
      return build(rows, rows.map(() => PROVENANCE.provided));
    }
    const K = input.options.retrievalK;
    const cold = !ctx.userEmb!.some((v) => v !== 0);
    const rows = cold ? popularRows(ctx, K) : await annRows(ctx, K);
    const provenance: number[] = rows.map(() => PROVENANCE.retrieved);
    // Fresh source: newest items, best light score first, not already retrieved.
    const taken = new Set(rows);
    const fresh = Array.from(deps.catalog.freshRows(ctx.now, deps.freshPool, input.category)).filter((r) => !taken.has(r) && usable(ctx, r));
    let added = 0;
    if (fresh.length > 0 && deps.freshKeep > 0) {
      const fr = Int32Array.from(fresh);
      const s = cold ? Float32Array.from(fr, (r) => deps.catalog.cols.bias[r]) : scoreRows(deps.catalog.cols.embeddings, deps.catalog.dim, fr, ctx.userEmb!);
      for (const p of topK(s, deps.freshKeep)) {
        rows.push(fr[p]);
        provenance.push(PROVENANCE.fresh);
        added++;
      }
    }
    ctx.note = `${cold ? 'popular (cold user)' : 'ann'} ${rows.length - added} + fresh ${added}`;
    return build(rows, provenance);
  },
};
