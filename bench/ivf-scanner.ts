// Before/after of the addon's AVX2 IVF scanner against FAISS's own: the same
// IVF1024,Flat index over 200k clustered 64-d vectors, k = 1000, nprobe 64,
// one query per call. Run it twice, once with RANK_FAISS_SCANNER=faiss:
//
//   node dist/bench/ivf-scanner.js && RANK_FAISS_SCANNER=faiss node dist/bench/ivf-scanner.js
import { VectorIndex } from '../src/native';
import { mulberry32 } from '../src/util/random';

async function main(): Promise<void> {
  const d = 64;
  const n = 200_000;
  const clusters = 1000;
  const r = mulberry32(12345);
  const g = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const centres = Float32Array.from({ length: clusters * d }, g);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * clusters);
    let norm = 0;
    for (let j = 0; j < d; j++) {
      x[i * d + j] = (centres[c * d + j] + g()) / Math.sqrt(d);
      norm += x[i * d + j] ** 2;
    }
    for (let j = 0; j < d; j++) x[i * d + j] /= Math.sqrt(norm);
  }
  const index = VectorIndex.create(d, 'IVF1024,Flat', 'ip');
  await index.train(x.subarray(0, 65_536 * d), 2);
  await index.add(x, BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), 2);
  const queries = Array.from({ length: 300 }, (_, i) => x.subarray(i * 601 * d, (i * 601 + 1) * d));
  for (const q of queries.slice(0, 30)) await index.search(q, { k: 1000, nprobe: 64 });
  const us: number[] = [];
  for (const q of queries) {
    const t0 = process.hrtime.bigint();
    await index.search(q, { k: 1000, nprobe: 64 });
    us.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  us.sort((a, b) => a - b);
  console.log(`${index.kind}: IVF1024,Flat nprobe 64, k 1000, 200k x 64: median ${us[150].toFixed(0)} µs, p99 ${us[296].toFixed(0)} µs`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
