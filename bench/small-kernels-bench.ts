// MMR, DPP, the policy's duplicate test, HAP route/merge, topK and scoreRows through the typed wrappers
// (their input checks included: that is what a request pays).
import { dpp, hapMerge, hapRoute, mmr, scoreRows, topK } from '../src/native';
import { duplicateFlags } from '../src/native/diversity';
import { Rng, TimeOptions, timeSync } from './bench-util';
import type { Row } from './report';

const DIM = 64;

export function benchSmallKernels(quick: boolean, log: (s: string) => void): Row[] {
  const rows: Row[] = [];
  const opt: TimeOptions = { budgetMs: quick ? 300 : 1000, maxReps: 50000 };
  const rng = new Rng(11);
  const catalogRows = quick ? 20_000 : 100_000;
  const emb = rng.normals(catalogRows * DIM);
  const add = (r: Row) => {
    rows.push(r);
    log(`  ${r.kernel.padEnd(18)} ${r.case.padEnd(34)} median ${r.timing.medianUs.toFixed(1)} µs  p99 ${r.timing.p99Us.toFixed(1)} µs${r.note ? `  ${r.note}` : ''}`);
  };
  const cat = `d=${DIM}, catalog ${catalogRows / 1000}k rows`;

  for (const [K, n, mmrTarget, dppTarget] of [
    [200, 50, 40, 80],
    [1000, 100, 0, 0],
  ] as const) {
    const cand = { embeddings: emb, dim: DIM, rows: rng.sample(catalogRows, K), relevance: rng.normals(K) };
    const lambda = 0.7;
    const alpha = 2;
    const picksM = mmr(cand, n, lambda).length;
    const picksD = dpp(cand, n, alpha).length;
    const tm = timeSync(() => mmr(cand, n, lambda), opt);
    add({
      group: 'diversity',
      kernel: 'MMR',
      case: `${n} of ${K}, ${cat}`,
      timing: tm,
      note: `λ=${lambda}, ${picksM} picked`,
      target: mmrTarget > 0 ? { maxMedianUs: mmrTarget, pass: tm.medianUs <= mmrTarget } : undefined,
    });
    const td = timeSync(() => dpp(cand, n, alpha), opt);
    add({
      group: 'diversity',
      kernel: 'DPP (greedy MAP)',
      case: `${n} of ${K}, ${cat}`,
      timing: td,
      note:
        `α=${alpha}, ε=1e-6, ${picksD} picked` +
        (picksD < n ? ` (stops early: cosine kernel of ${DIM}-d rows has rank ≤ ${DIM})` : ''),
      target: dppTarget > 0 ? { maxMedianUs: dppTarget, pass: td.medianUs <= dppTarget } : undefined,
    });
  }

  // The policy's duplicate test over the candidates competing for a page
  // (max(3N, 100) organic + fresh: 200 for W2), no duplicates among them.
  const hashes = Int32Array.from({ length: catalogRows }, (_, i) => i);
  const dupRows = rng.sample(catalogRows, 200);
  add({
    group: 'diversity',
    kernel: 'duplicateFlags',
    case: `200 rows, ${cat}`,
    timing: timeSync(() => duplicateFlags(emb, DIM, dupRows, hashes, 0.995), opt),
    note: 'cosine ≥ 0.995 or same content hash',
  });

  // HAP: K = 1000 light scores, keep M = 200, strong-model budget B = 200.
  const K = 1000;
  const M = 200;
  const B = 200;
  const light = rng.normals(K);
  const hard = hapRoute(light, M, B);
  const strong = rng.normals(hard.length);
  const hcase = `K=${K}, M=${M}, B=${B}`;
  add({ group: 'hap', kernel: 'hapRoute', case: hcase, timing: timeSync(() => hapRoute(light, M, B), opt) });
  add({ group: 'hap', kernel: 'hapMerge', case: hcase, timing: timeSync(() => hapMerge(light, hard, strong, M), opt) });
  add({
    group: 'hap',
    kernel: 'hapRoute+hapMerge',
    case: hcase,
    timing: timeSync(() => hapMerge(light, hapRoute(light, M, B), strong, M), opt),
    note: `${hard.length} routed`,
  });
  add({ group: 'hap', kernel: 'topK', case: `${M} of ${K}`, timing: timeSync(() => topK(light, M), opt) });

  const rowsIdx = rng.sample(catalogRows, 1000);
  const q = rng.normals(DIM);
  add({ group: 'hap', kernel: 'scoreRows', case: `1000 rows, ${cat}`, timing: timeSync(() => scoreRows(emb, DIM, rowsIdx, q), opt) });
  return rows;
}
