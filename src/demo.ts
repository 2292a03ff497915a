// `npm start`: generates the demo world on first run (cached in .data/),
// loads its bundle and ranks for one user, printing each stage and how the
// result compares with the world's ground truth.
//
// The cascade here runs in-process, one request at a time: user tower (ONNX)
// -> FAISS retrieval -> light two-tower score -> HAP routing to the strong
// pre-ranker -> DCN-v2 ranker -> weighted ensemble -> DPP diversity.
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';

import { loadBundle } from './bundle/loader';
import { featureLayout, gatherItemFeatures, userFeatures } from './features/layout';
import { DcnModel, dpp, hapMerge, hapRoute, scoreRows, simdLevel, topK } from './native';
import { ensureWorld } from './world/cache';
import { readEventsByUser } from './world/events';
import { DAY_MS, DEFAULT_WORLD, OBJECTIVES, Surface } from './world/schema';
import { trueProbabilities, trueUtility } from './world/truth';
import { loadTruth } from './world/truth-files';
import { ACTION_CODES } from './world/user-tower';

const K = 1000;
const M = 200;
const N = 10;
const SURFACE: Surface = 'home';

function ms(t0: bigint): string {
  return (Number(process.hrtime.bigint() - t0) / 1e6).toFixed(2);
}

async function main(): Promise<void> {
  const root = process.env.DEMO_WORLD_DIR ?? path.join(__dirname, '..', '..', '.data', 'demo-world');
  const paths = await ensureWorld(root, DEFAULT_WORLD, (m) => console.error(m));
  const t0 = process.hrtime.bigint();
  const b = await loadBundle(paths.bundle, { progress: true });
  console.log(`bundle ${b.manifest.name} ${b.manifest.version}: ${b.items.n} items, dim ${b.manifest.embeddingDim}, index ${b.index.kind}; loaded in ${ms(t0)} ms (SIMD ${simdLevel})`);
  const truth = await loadTruth(paths, b);
  const d = b.manifest.embeddingDim;
  const layout = featureLayout(d);

  // A returning user with a real history.
  const events = await readEventsByUser(paths.events);
  const userId = truth.users.info.find((u) => u.segment === 'returning' && (events.get(u.id)?.length ?? 0) >= 20)?.id;
  if (!userId) throw new Error('no returning user with 20 events in the demo world');
  const uRow = truth.users.rowOf.get(userId)!;
  const info = truth.users.info[uRow];
  const history = events.get(userId)!.slice(-50);
  const now = Date.parse(b.manifest.referenceTime ?? b.manifest.createdAt);
  console.log(`\nuser ${userId} (${info.device}; likes ${info.categories.join(', ')}), ${history.length} recent actions, surface ${SURFACE}`);

  // User tower.
  const tower = await ort.InferenceSession.create(Buffer.from(b.userTower), { intraOpNumThreads: 1 });
  let t = process.hrtime.bigint();
  const L = history.length;
  const seq = new Float32Array(L * d);
  const lp = new Float32Array(L);
  const act = new BigInt64Array(L);
  const age = new Float32Array(L);
  const purchased: bigint[] = [];
  history.forEach((e, k) => {
    const r = b.items.rowOf.get(e.item)!;
    seq.set(b.embeddings.subarray(r * d, (r + 1) * d), k * d);
    lp[k] = b.items.logPrice[r];
    act[k] = BigInt(ACTION_CODES[e.action]);
    age[k] = (now - e.ts) / DAY_MS;
    if (e.action === 'purchase') purchased.push(BigInt(r));
  });
  const out = await tower.run({
    items: new ort.Tensor('float32', seq, [1, L, d]),
    log_price: new ort.Tensor('float32', lp, [1, L]),
    action: new ort.Tensor('int64', act, [1, L]),
    age_days: new ort.Tensor('float32', age, [1, L]),
  });
  const userEmb = out.user_emb.data as Float32Array;
  const pricePref = (out.price_pref.data as Float32Array)[0];
  const tTower = ms(t);

  // Retrieval (purchased items excluded), light score, HAP, rank, ensemble, DPP.
  t = process.hrtime.bigint();
  const hits = await b.index.search(userEmb, { k: K, nprobe: b.manifest.index.nprobe, denyIds: purchased });
  const rows = Int32Array.from(hits.ids, Number).filter((r) => r >= 0);
  const tRetrieve = ms(t);
  t = process.hrtime.bigint();
  const light = scoreRows(b.embeddings, d, rows, userEmb);
  const bw = b.manifest.lightModel?.biasWeight ?? 0;
  for (let k = 0; k < rows.length; k++) light[k] += bw * b.bias[rows[k]];
  const uf = userFeatures(layout, userEmb, pricePref, SURFACE, info.device);
  const cols = { embeddings: b.embeddings, logPrice: b.items.logPrice, isNew: truth.items.isNew, popularity: b.bias };
  const hard = hapRoute(light, M, Math.round(0.2 * rows.length));
  const pre = new DcnModel(b.preranker.shape, b.preranker.weights);
  const strong = pre.forward(uf, gatherItemFeatures(layout, cols, Int32Array.from(hard, (p) => rows[p])));
  for (let i = 0; i < strong.length; i++) strong[i] = Math.log(strong[i] / (1 - strong[i])); // onto a logit scale
  const kept = hapMerge(light, hard, strong, M);
  const keptRows = Int32Array.from(kept.order, (p) => rows[p]);
  const tPre = ms(t);
  t = process.hrtime.bigint();
  const ranker = new DcnModel(b.ranker.shape, b.ranker.weights);
  const probs = ranker.forward(uf, gatherItemFeatures(layout, cols, keptRows));
  const weights = b.manifest.defaultWeights[SURFACE] as Record<(typeof OBJECTIVES)[number], number>;
  const score = trueUtility(probs, weights); // the same weighted sum, on the model's probabilities
  const tRank = ms(t);
  t = process.hrtime.bigint();
  const picked = dpp({ embeddings: b.embeddings, dim: d, rows: keptRows, relevance: Float32Array.from(score, (s) => Math.log(s + 1e-9)) }, N, 1);
  const tDpp = ms(t);

  // The oracle: true utility of every item for this user and context.
  const all = Int32Array.from({ length: b.items.n }, (_, i) => i);
  const utility = trueUtility(trueProbabilities(truth.coefficients, truth.items, truth.users, uRow, all, { surface: SURFACE, device: info.device }), weights);
  const order = topK(utility, b.items.n);
  const trueRank = new Int32Array(b.items.n);
  order.forEach((row, r) => (trueRank[row] = r + 1));

  console.log(
    `stages: user tower ${tTower} ms | retrieval ${rows.length} in ${tRetrieve} ms | pre-rank (strong model on ${hard.length}) ${tPre} ms | rank ${keptRows.length} in ${tRank} ms | DPP ${picked.length} in ${tDpp} ms`,
  );
  console.log('\n  #  item          category     brand        price   new  score   true utility (rank of ' + b.items.n + ')');
  picked.forEach((p, i) => {
    const row = keptRows[p];
    console.log(
      `${String(i + 1).padStart(3)}  ${b.items.ids[row]}  ${b.items.categoryNames[b.items.category[row]].padEnd(11)}  ${b.items.brandNames[b.items.brand[row]].padEnd(11)}  ${b.items.price[row].toFixed(2).padStart(7)}  ${truth.items.isNew[row] ? 'yes' : '   '}  ${score[p].toFixed(3)}   ${utility[row].toFixed(3)} (${trueRank[row]})`,
    );
  });
  const ideal = Array.from(order.subarray(0, N), (r) => utility[r]);
  const got = Array.from(picked, (p) => utility[keptRows[p]]);
  const dcg = (xs: number[]) => xs.reduce((a, x, i) => a + x / Math.log2(i + 2), 0);
  console.log(`\nNDCG@${N} of this list against the oracle (true utility): ${(dcg(got) / dcg(ideal)).toFixed(3)}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
