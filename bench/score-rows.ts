// scoreRows (the light two-tower score over gathered candidate rows) on a
// 100k x 32 catalog, 1050 and 2000 random rows: median and p99 per call.
//
//   node dist/bench/score-rows.js
import { scoreRows } from '../src/native';
import { mulberry32 } from '../src/util/random';

const d = 32;
const catalog = 100_000;
const r = mulberry32(9);
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

// Cold rows: a 1M x 64 catalog (256 MB, far past the caches) and a new random
// set of 1000 rows every call, as in a live cascade where each request
// gathers other candidates.
{
  const D = 64;
  const N = 1_000_000;
  const big = new Float32Array(N * D);
  for (let i = 0; i < big.length; i += 97) big[i] = r() - 0.5;
  const qq = Float32Array.from({ length: D }, () => r());
  const sets = Array.from({ length: 512 }, () => Int32Array.from({ length: 1000 }, () => Math.floor(r() * N)));
  for (let i = 0; i < 512; i++) scoreRows(big, D, sets[i], qq);
  const us: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const rows = Int32Array.from(sets[i % 512], (x) => (x + i * 7919) % N);
    const t0 = process.hrtime.bigint();
    scoreRows(big, D, rows, qq);
    us.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  us.sort((a, b) => a - b);
  console.log(`scoreRows 1000 cold rows of a 1M x ${D} catalog: median ${us[2500].toFixed(1)} µs, p99 ${us[4950].toFixed(1)} µs`);
}
