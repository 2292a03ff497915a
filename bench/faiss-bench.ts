// FAISS through VectorIndex: IVF-Flat and HNSW32 on clustered, normalised
// synthetic vectors (inner product), one query per call, k = 1000, recall
// against an exact Flat search of the same queries.
import { VectorIndex } from '../src/native';
import { Rng, Timing, summarise } from './bench-util';
import type { FaissRow } from './report';

const DIM = 64;
const K = 1000;
const GT_QUERIES = 50;

export interface FaissOptions {
  n: number;
  nlist: number;
  /** Distinct queries timed per configuration (the first GT_QUERIES also give recall). */
  timedQueries: number;
  /** Projected HNSW build time (s) above which the HNSW index stays at its first chunk. */
  hnswBudgetS: number;
  hnswFirstChunk: number;
  threads: number;
  /** Noise norm relative to the unit centre norm (before normalising). */
  noise: number;
}

/** n unit vectors: a random one of the unit `centres` plus gaussian noise of norm ~`noise`, normalised. */
function clustered(rng: Rng, n: number, centres: Float32Array, nc: number, noise: number): Float32Array {
  const x = new Float32Array(n * DIM);
  const sigma = noise / Math.sqrt(DIM);
  for (let i = 0; i < n; i++) {
    const c = rng.int(nc) * DIM;
    let norm = 0;
    for (let j = 0; j < DIM; j++) {
      const v = centres[c + j] + sigma * rng.normal();
      x[i * DIM + j] = v;
      norm += v * v;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let j = 0; j < DIM; j++) x[i * DIM + j] *= inv;
  }
  return x;
}

function unitCentres(rng: Rng, nc: number): Float32Array {
  const c = rng.normals(nc * DIM);
  for (let i = 0; i < nc; i++) {
    let s = 0;
    for (let j = 0; j < DIM; j++) s += c[i * DIM + j] ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < DIM; j++) c[i * DIM + j] *= inv;
  }
  return c;
}

const seq = (from: number, to: number) => {
  const ids = new BigInt64Array(to - from);
  for (let i = 0; i < ids.length; i++) ids[i] = BigInt(from + i);
  return ids;
};

const secondsSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/** Mean over queries of |approx top-k ∩ exact top-k| / k. */
function recall(approx: BigInt64Array[], exact: BigInt64Array[], k: number): number {
  let sum = 0;
  for (let q = 0; q < exact.length; q++) {
    const truth = new Set(exact[q].subarray(0, k));
    let hit = 0;
    for (const id of approx[q].subarray(0, k)) if (truth.has(id)) hit++;
    sum += hit / k;
  }
  return sum / exact.length;
}

/** An exact (Flat) index over the first n vectors. */
async function flatIndex(x: Float32Array, n: number, threads: number): Promise<VectorIndex> {
  const flat = VectorIndex.create(DIM, 'Flat', 'ip');
  await flat.add(x.subarray(0, n * DIM), seq(0, n), threads);
  return flat;
}

/** Exact top-K of the first GT_QUERIES queries (one batch search). */
async function exactTopK(flat: VectorIndex, queries: Float32Array, threads: number): Promise<{ ids: BigInt64Array[]; ms: number }> {
  const t0 = process.hrtime.bigint();
  const r = await flat.search(queries.subarray(0, GT_QUERIES * DIM), { k: K, threads });
  const ms = secondsSince(t0) * 1e3;
  return { ids: Array.from({ length: GT_QUERIES }, (_, q) => r.ids.slice(q * K, (q + 1) * K)), ms };
}

/** One query per call; returns the timing and the first GT_QUERIES results. */
async function perQuery(
  index: VectorIndex,
  queries: Float32Array,
  nq: number,
  opts: { efSearch?: number; nprobe?: number },
): Promise<{ timing: Timing; results: BigInt64Array[] }> {
  const results: BigInt64Array[] = [];
  const search = (q: number) => index.search(queries.subarray(q * DIM, (q + 1) * DIM), { k: K, threads: 1, ...opts });
  for (let w = 0; w < 10; w++) await search(w % nq);
  const ns = new Float64Array(nq);
  for (let q = 0; q < nq; q++) {
    const t0 = process.hrtime.bigint();
    const r = await search(q);
    ns[q] = Number(process.hrtime.bigint() - t0);
    if (q < GT_QUERIES) results.push(r.ids);
  }
  const timing = summarise(ns);
  return { timing, results };
}

export async function benchFaiss(o: FaissOptions, log: (s: string) => void): Promise<{ rows: FaissRow[]; notes: string[] }> {
  const rows: FaissRow[] = [];
  const notes: string[] = [];
  const rng = new Rng(2024);
  const nc = 1000;
  let t0 = process.hrtime.bigint();
  const centres = unitCentres(rng, nc);
  const x = clustered(rng, o.n, centres, nc, o.noise);
  const queries = clustered(rng, o.timedQueries, centres, nc, o.noise);
  log(`  data: ${o.n} x ${DIM} around ${nc} centres, ${o.timedQueries} queries (${secondsSince(t0).toFixed(1)} s)`);

  t0 = process.hrtime.bigint();
  const flat = await flatIndex(x, o.n, o.threads);
  const gt = await exactTopK(flat, queries, o.threads);
  log(`  exact Flat: ${GT_QUERIES} queries batch, threads ${o.threads}: ${gt.ms.toFixed(0)} ms (add ${secondsSince(t0).toFixed(1)} s in all)`);
  notes.push(
    `FAISS data: ${o.n.toLocaleString('en-US')} x ${DIM} float32, ${nc} random unit centres + gaussian noise of norm ~${o.noise} ` +
      `(per-dimension sigma ${o.noise}/sqrt(${DIM})), normalised; inner product; queries drawn the same way (not in the index). ` +
      `Builds and the exact batch search use threads ${o.threads}; searches one query per call with threads 1.`,
  );
  notes.push(
    `Exact ground truth: Flat (inner product) over the same vectors, ${GT_QUERIES} queries in one batch with threads ${o.threads}: ` +
      `${gt.ms.toFixed(0)} ms (${(gt.ms / GT_QUERIES).toFixed(1)} ms/query). Recall is averaged over those ${GT_QUERIES} queries; ` +
      `latency over ${o.timedQueries} distinct queries (the search call includes the async-worker round trip).`,
  );

  // Exact single-query baseline.
  {
    const { timing } = await perQuery(flat, queries, Math.min(40, o.timedQueries), {});
    rows.push({ index: 'Flat (exact)', params: 'brute force', n: o.n, kind: flat.kind, buildS: 0, timing, recallAt1000: 1, recallAt100: 1 });
    log(`  Flat per query: median ${(timing.medianUs / 1000).toFixed(2)} ms`);
  }

  // IVF-Flat.
  {
    const factory = `IVF${o.nlist},Flat`;
    const ivf = VectorIndex.create(DIM, factory, 'ip');
    const nTrain = Math.min(o.n, o.nlist * 50);
    t0 = process.hrtime.bigint();
    await ivf.train(x.subarray(0, nTrain * DIM), o.threads);
    const trainS = secondsSince(t0);
    await ivf.add(x, seq(0, o.n), o.threads);
    const buildS = secondsSince(t0);
    log(`  ${factory}: train on ${nTrain} ${trainS.toFixed(1)} s, build ${buildS.toFixed(1)} s, kind ${ivf.kind}`);
    for (const nprobe of [64, 80, 96, 128]) {
      const { timing, results } = await perQuery(ivf, queries, o.timedQueries, { nprobe });
      const row: FaissRow = {
        index: factory,
        params: `nprobe ${nprobe}`,
        n: o.n,
        kind: ivf.kind,
        buildS,
        timing,
        recallAt1000: recall(results, gt.ids, K),
        recallAt100: recall(results, gt.ids, 100),
        note: `train ${trainS.toFixed(1)} s on ${nTrain / 1000}k, threads ${o.threads}`,
      };
      rows.push(row);
      log(`  ${factory} nprobe ${nprobe}: median ${(timing.medianUs / 1000).toFixed(2)} ms, p99 ${(timing.p99Us / 1000).toFixed(2)} ms, recall@1000 ${row.recallAt1000.toFixed(4)}, @100 ${row.recallAt100.toFixed(4)}`);
    }
  }

  // HNSW32: built in chunks; stops after the first if the projected full build is too long.
  {
    const hnsw = VectorIndex.create(DIM, 'HNSW32,Flat', 'ip');
    let built = 0;
    let note = '';
    t0 = process.hrtime.bigint();
    const chunk = Math.min(o.hnswFirstChunk, o.n);
    await hnsw.add(x.subarray(0, chunk * DIM), seq(0, chunk), o.threads);
    built = chunk;
    const firstS = secondsSince(t0);
    // Per-point insertion cost grows with n (deeper searches, cache misses): on
    // the 2-core dev VM 1M took 13x the time of its first 200k, so 2.6x per point.
    const projected = built < o.n ? firstS * (o.n / built) * 2.6 : firstS;
    log(`  HNSW32: ${built} in ${firstS.toFixed(1)} s, projected full build ${projected.toFixed(0)} s`);
    if (projected > o.hnswBudgetS) {
      note = `built on the first ${built / 1000}k only: ${built / 1000}k took ${firstS.toFixed(0)} s, projected ${o.n / 1000}k build ${(projected / 60).toFixed(1)} min`;
    } else {
      while (built < o.n) {
        if (secondsSince(t0) > o.hnswBudgetS) {
          note = `build stopped at ${built / 1000}k after ${secondsSince(t0).toFixed(0)} s (budget ${o.hnswBudgetS} s)`;
          break;
        }
        const end = Math.min(o.n, built + chunk);
        await hnsw.add(x.subarray(built * DIM, end * DIM), seq(built, end), o.threads);
        built = end;
        log(`  HNSW32: ${built} after ${secondsSince(t0).toFixed(0)} s`);
      }
    }
    const buildS = secondsSince(t0);
    const truth = built === o.n ? gt : await exactTopK(await flatIndex(x, built, o.threads), queries, o.threads);
    const { timing, results } = await perQuery(hnsw, queries, o.timedQueries, { efSearch: 1000 });
    const row: FaissRow = {
      index: 'HNSW32,Flat',
      params: 'efSearch 1000',
      n: built,
      kind: hnsw.kind,
      buildS,
      timing,
      recallAt1000: recall(results, truth.ids, K),
      recallAt100: recall(results, truth.ids, 100),
      note: [`efConstruction 40, threads ${o.threads}`, note].filter((s) => s).join('; '),
    };
    rows.push(row);
    if (note) notes.push(`HNSW32 ${note}.`);
    log(`  HNSW32 efSearch 1000 (${built}): median ${(timing.medianUs / 1000).toFixed(2)} ms, p99 ${(timing.p99Us / 1000).toFixed(2)} ms, recall@1000 ${row.recallAt1000.toFixed(4)}, @100 ${row.recallAt100.toFixed(4)}, build ${buildS.toFixed(0)} s`);
  }
  return { rows, notes };
}
