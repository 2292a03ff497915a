// A sample ranking through the native core, on a small synthetic catalog made
// in memory: FAISS retrieval -> light two-tower score -> HAP routing of the
// uncertain candidates to a strong scorer -> DPP diversity.
//
// The catalog has a known truth: each item has a latent vector clustered by
// category and brand; the index holds noisy copies (what a learned embedding
// would be). The strong scorer here is the exact match against the latent
// vectors, standing in for the heavy model, so the printout shows how much the
// cascade recovers. `npm start` will serve the gRPC engine on the demo bundle
// once that lands; until then it runs this.
import { VectorIndex, dpp, hapMerge, hapRoute, scoreRows, simdLevel } from './native';

const ITEMS = 20_000;
const DIM = 32;
const CATEGORIES = ['dresses', 'sneakers', 'jackets', 'bags', 'jeans', 'shirts', 'boots', 'watches'];
const BRANDS = 40;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

function normalize(v: Float32Array, off: number): void {
  let s = 0;
  for (let j = 0; j < DIM; j++) s += v[off + j] ** 2;
  const inv = 1 / Math.sqrt(s || 1);
  for (let j = 0; j < DIM; j++) v[off + j] *= inv;
}

async function main(): Promise<void> {
  const r = rng(42);
  const centre = (n: number, scale: number) => {
    const c = new Float32Array(n * DIM);
    for (let i = 0; i < c.length; i++) c[i] = gaussian(r) * scale;
    return c;
  };
  const catCentres = centre(CATEGORIES.length, 1);
  const brandCentres = centre(BRANDS, 0.5);
  const latent = new Float32Array(ITEMS * DIM);
  const emb = new Float32Array(ITEMS * DIM);
  const category = new Int32Array(ITEMS);
  const brand = new Int32Array(ITEMS);
  for (let i = 0; i < ITEMS; i++) {
    // Long-tailed category popularity; each brand sells in one or two categories.
    category[i] = Math.min(CATEGORIES.length - 1, Math.floor(-Math.log(Math.max(r(), 1e-9)) * 2));
    brand[i] = (category[i] * 5 + Math.floor(r() * 5)) % BRANDS;
    for (let j = 0; j < DIM; j++) {
      const o = i * DIM + j;
      latent[o] = catCentres[category[i] * DIM + j] + brandCentres[brand[i] * DIM + j] + 0.3 * gaussian(r);
    }
    normalize(latent, i * DIM);
    for (let j = 0; j < DIM; j++) emb[i * DIM + j] = latent[i * DIM + j] + 0.15 * gaussian(r);
    normalize(emb, i * DIM);
  }

  const t0 = process.hrtime.bigint();
  const index = VectorIndex.create(DIM, 'IVF256,Flat', 'ip');
  await index.train(emb);
  await index.add(emb, BigInt64Array.from({ length: ITEMS }, (_, i) => BigInt(i)));
  const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;

  // A user who likes sneakers (70%) and bags (30%).
  const user = new Float32Array(DIM);
  for (let j = 0; j < DIM; j++) user[j] = 0.7 * catCentres[1 * DIM + j] + 0.3 * catCentres[3 * DIM + j];
  normalize(user, 0);

  const K = 1000;
  const M = 200;
  const N = 10;
  const t1 = process.hrtime.bigint();
  const hits = await index.search(user, { k: K, nprobe: 32 });
  const rows = Int32Array.from(hits.ids, (id) => Number(id)).filter((x) => x >= 0);
  const light = scoreRows(emb, DIM, rows, user);
  const hard = hapRoute(light, M, Math.round(0.2 * rows.length));
  const strong = scoreRows(latent, DIM, Int32Array.from(hard, (p) => rows[p]), user);
  const kept = hapMerge(light, hard, strong, M);
  const keptRows = Int32Array.from(kept.order, (p) => rows[p]);
  const picked = dpp({ embeddings: emb, dim: DIM, rows: keptRows, relevance: kept.scores }, N, 8);
  const rankMs = Number(process.hrtime.bigint() - t1) / 1e6;

  const truth = scoreRows(latent, DIM, Int32Array.from({ length: ITEMS }, (_, i) => i), user);
  const trueRank = new Int32Array(ITEMS);
  Array.from({ length: ITEMS }, (_, i) => i)
    .sort((a, b) => truth[b] - truth[a])
    .forEach((row, rank) => (trueRank[row] = rank + 1));
  console.log(`native core (SIMD: ${simdLevel}); catalog ${ITEMS} items x ${DIM} dims; IVF index built in ${buildMs.toFixed(0)} ms`);
  console.log(`cascade: retrieved ${rows.length}, strong model on ${hard.length}, kept ${kept.order.length}, DPP picked ${picked.length} in ${rankMs.toFixed(2)} ms`);
  console.log('\n rank  item    category   brand   score   true affinity (rank of 20000)');
  picked.forEach((p, i) => {
    const row = keptRows[p];
    const t = truth[row];
    console.log(
      ` ${String(i + 1).padStart(4)}  ${String(row).padStart(6)}  ${CATEGORIES[category[row]].padEnd(9)}  b${String(brand[row]).padEnd(5)}  ${kept.scores[p].toFixed(3)}   ${t.toFixed(3)} (${trueRank[row]})`,
    );
  });
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
