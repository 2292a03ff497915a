// scoreRows (the light two-tower score over gathered candidate rows) on a
// 100k x 32 catalog, 1050 and 2000 random rows: median and p99 per call; then
// cold rows of a 1M x 64 catalog on 4 KiB vs huge pages, with the ranker's
// item-feature gather (TypeScript loop vs native) next to scoreRows.
//
//   node dist/bench/score-rows.js
import { gatherItemFeatures, ItemFeatureColumns, scoreRows } from '../src/native';
import { adviseHugePages } from '../src/native/memory';
import { mulberry32 } from '../src/util/random';

const d = 32;
const catalog = 100_000;
const r = mulberry32(9);
/** n random catalog rows. */
function randomRows(n: number, of: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(r() * of));
}

const emb = Float32Array.from({ length: catalog * d }, () => r() - 0.5);
const q = Float32Array.from({ length: d }, () => r());
for (const k of [1050, 2000]) {
  const rows = Int32Array.from({ length: k }, () => Math.floor(r() * catalog));
  for (let i = 0; i < 2000; i++) scoreRows(emb, d, rows, q);
  const us: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const t0 = process.hrtime.bigint();
    scoreRows(emb, d, rows, q);
    us.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  us.sort((a, b) => a - b);
  console.log(`scoreRows ${k} x ${d}: median ${us[2500].toFixed(1)} µs, p99 ${us[4950].toFixed(1)} µs`);
}

// Cold rows: a 1M x 64 catalog (256 MB, far past the caches) and new random
// rows every call, as in a live cascade where each request gathers other
// candidates. Two copies of the catalog, one on 4 KiB pages and one advised
// onto transparent huge pages before it was filled (as LiveCatalog does);
// calls alternate between them, so machine noise hits both alike.
//   - scoreRows over 1000 rows (the light score of W2's K = 1000);
//   - the ranker's item-feature gather over 250 rows (W2's M = 200 + 50
//     fresh): the plain TypeScript loop the scorer used before, and the
//     native gather it uses now.
{
  const D = 64;
  const N = 1_000_000;
  const newItemMs = 7 * 86_400_000;
  const now = 1_800_000_000_000;
  const catalogOn = (huge: boolean): ItemFeatureColumns => {
    const f32 = (n: number) => {
      const a = new Float32Array(n);
      if (huge) adviseHugePages(a);
      return a;
    };
    const embeddings = f32(N * D);
    for (let i = 0; i < embeddings.length; i += 7) embeddings[i] = r() - 0.5;
    const logPrice = f32(N).fill(0.5);
    const bias = f32(N).fill(0.1);
    const createdAt = new Float64Array(N);
    if (huge) adviseHugePages(createdAt);
    createdAt.fill(now - 86_400_000);
    return { dim: D, embeddings, logPrice, bias, createdAt };
  };
  const pages = { '4 KiB pages': catalogOn(false), 'huge pages': catalogOn(true) };
  const qq = Float32Array.from({ length: D }, () => r());
  const jsGather = (c: ItemFeatureColumns, rows: Int32Array, out: Float32Array) => {
    const w = D + 4;
    for (let k = 0; k < rows.length; k++) {
      const row = rows[k];
      const o = k * w;
      const from = row * D;
      for (let j = 0; j < D; j++) out[o + j] = c.embeddings[from + j];
      const lp = c.logPrice[row];
      out[o + D] = lp;
      out[o + D + 1] = lp;
      const t = c.createdAt[row];
      out[o + D + 2] = t <= now && now - t < newItemMs ? 1 : 0;
      out[o + D + 3] = c.bias[row];
    }
  };
  const out = new Float32Array(250 * (D + 4));
  const cases: [string, number, (c: ItemFeatureColumns, rows: Int32Array) => void][] = [
    ['scoreRows, 1000 rows', 1000, (c, rows) => scoreRows(c.embeddings, D, rows, qq)],
    ['item-feature gather, 250 rows, TypeScript loop', 250, (c, rows) => jsGather(c, rows, out)],
    ['item-feature gather, 250 rows, native', 250, (c, rows) => gatherItemFeatures(c, rows, now, newItemMs, out)],
  ];
  for (const [name, n, fn] of cases) {
    const us: Record<string, number[]> = { '4 KiB pages': [], 'huge pages': [] };
    for (let i = 0; i < 6000; i++) {
      const which = i % 2 === 0 ? '4 KiB pages' : 'huge pages';
      const rows = randomRows(n, N);
      const t0 = process.hrtime.bigint();
      fn(pages[which], rows);
      if (i >= 1000) us[which].push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
    for (const [which, v] of Object.entries(us)) {
      v.sort((a, b) => a - b);
      console.log(`${name}, cold rows of a 1M x ${D} catalog, ${which}: median ${v[v.length >> 1].toFixed(1)} µs, p99 ${v[Math.floor(v.length * 0.99)].toFixed(1)} µs`);
    }
  }
}
