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
