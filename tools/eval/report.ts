// Writes an evaluator report: report.json (every number), report.md (the
// headline tables) and the SVG plots, into one directory.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { Interval } from './metrics';
import type { PrecisionSection } from './precision';
import type { EvalReport } from './run';
import { renderLinePlot } from './svg';

const f3 = (v: number | null) => (v === null ? '-' : v.toFixed(3));
const f2 = (v: number | null) => (v === null ? '-' : v.toFixed(2));
const yes = (b: boolean | null) => (b === null ? 'n/a' : b ? 'met' : 'NOT met');
/** "0.652 ± 0.012" (the 95% interval's half-width). */
const pm = (i: Interval, digits = 3) => `${i.mean.toFixed(digits)} ± ${((i.hi - i.lo) / 2).toFixed(digits)}`;
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
/** The engine and the main baselines: the rows of the breakdown tables. */
const MAIN_CONFIGS = ['random', 'popularity', 'two-tower', 'engine', 'no-shortcuts'];

export function hapPlot(r: EvalReport): string {
  return renderLinePlot({
    title: 'HAP heavy budget: final NDCG@50 and prerank stage time',
    xLabel: 'heavy_budget (share of K scored by the strong pre-ranker)',
    yLabel: 'NDCG@50 (final list vs oracle)',
    y2Label: 'prerank stage ms (mean)',
    series: [
      { name: 'NDCG@50 (HAP routing)', points: r.hap.curve.map((c) => ({ x: c.budget, y: c.ndcg50, label: c.ndcg50.toFixed(3) })) },
      { name: 'NDCG@50 (top-B routing)', color: '#2ca02c', points: r.hap.routing.rows.map((c) => ({ x: c.budget, y: c.topNdcg50 })) },
      { name: 'prerank ms (HAP routing)', color: '#d62728', axis: 'right', dashed: true, points: r.hap.curve.map((c) => ({ x: c.budget, y: c.prerankMs, label: `${c.prerankMs.toFixed(2)} ms` })) },
    ],
  });
}

export function diversityPlot(r: EvalReport): string {
  const series = ['mmr', 'dpp'].map((m) => ({
    name: m.toUpperCase() + ' (label: lambda)',
    points: r.diversity.points
      .filter((p) => p.method === m)
      .sort((a, b) => a.distinctCategories20 - b.distinctCategories20)
      .map((p) => ({ x: p.distinctCategories20, y: p.ndcg10, label: `λ=${p.lambda}` })),
  }));
  const none = r.diversity.points.filter((p) => p.method === 'none');
  return renderLinePlot({
    title: 'Diversity trade-off: NDCG@10 vs distinct categories in the top 20',
    xLabel: 'distinct categories in the top 20 (mean)',
    yLabel: 'NDCG@10 (final list vs oracle)',
    series: [...series, { name: 'NONE', markersOnly: true, points: none.map((p) => ({ x: p.distinctCategories20, y: p.ndcg10, label: 'none' })) }],
  });
}

/** x of an index search setting: log2 of nprobe / efSearch (0 for the exact Flat search). */
function settingX(p: { nprobe: number | null; efSearch: number | null }): number {
  const v = p.nprobe ?? p.efSearch;
  return v === null ? 0 : Math.log2(v);
}

export function annPlot(r: EvalReport): string {
  const c = r.ann.curve;
  const param = c.some((p) => p.efSearch !== null) ? 'efSearch' : 'nprobe';
  return renderLinePlot({
    title: `Index search: recall@${r.ann.k} vs exact and final NDCG@50 by ${param}`,
    xLabel: `log2(${param}) (the bundle default is marked *)`,
    yLabel: 'recall / NDCG@50',
    y2Label: 'in-process search ms (one query)',
    series: [
      { name: `recall@${r.ann.k} vs exact top ${r.ann.k}`, points: c.map((p) => ({ x: settingX(p), y: p.recallAtK.mean, label: `${p.label}${p.isDefault ? '*' : ''}` })) },
      { name: 'recall@50 vs exact top 50', points: c.map((p) => ({ x: settingX(p), y: p.recallAt50.mean })) },
      { name: `share of the true top ${r.retrieval.trueTopN} in the ${r.ann.k}`, color: '#8c564b', points: c.map((p) => ({ x: settingX(p), y: p.truthRecall.mean })) },
      { name: 'final NDCG@50 (API)', points: c.map((p) => ({ x: settingX(p), y: p.ndcg50.mean, label: p.ndcg50.mean.toFixed(3) })) },
      { name: 'search ms', axis: 'right', dashed: true, points: c.map((p) => ({ x: settingX(p), y: p.searchMs })) },
    ],
  });
}

export function explorationPlot(r: EvalReport): string {
  return renderLinePlot({
    title: 'New-item share by result position (epsilon-greedy exploration)',
    xLabel: 'position in the result list',
    yLabel: 'share of lists with a new item there',
    series: r.exploration.rows.map((row) => ({
      name: `epsilon ${row.epsilon}, start ${row.start}`,
      points: row.newByPosition.map((y, i) => ({ x: i + 1, y })),
    })),
  });
}

export function baselinePlot(r: EvalReport): string {
  const names = ['random', 'popularity', 'two-tower', 'engine', 'no-shortcuts'];
  return renderLinePlot({
    title: 'NDCG@k of the engine and the baselines',
    xLabel: 'k',
    yLabel: 'NDCG@k',
    yRange: [0, 1],
    series: names.map((n) => ({ name: n, points: [{ x: 10, y: r.configs[n].ndcg10 }, { x: 50, y: r.configs[n].ndcg50 }] })),
  });
}

export function markdown(r: EvalReport): string {
  const h = r.headline;
  const L: string[] = [];
  L.push('# Ranking quality against the ground truth');
  L.push('');
  L.push(
    `Generated by \`${r.command}\` on ${r.date} at commit \`${r.commit}\`${r.uncommittedChanges ? ' (the working tree had uncommitted changes)' : ''} in ${r.seconds.toFixed(0)} s.`,
  );
  L.push(
    `World: ${r.world.items} items, ${r.world.users} users, dim ${r.world.dim} (seed ${r.world.seed}). Sample: ${r.sample.users} users ` +
      `(${Object.entries(r.sample.segments).map(([k, v]) => `${v} ${k}`).join(', ')}; surfaces ${Object.entries(r.sample.surfaces).map(([k, v]) => `${k} ${v}`).join(', ')}), each on their own device, one request per configuration, ${r.numResults} results.`,
  );
  L.push('');
  L.push(
    'Every list comes from the real engine through its gRPC API (a RankingService on 127.0.0.1 in the evaluator process, a grpc-js client) ' +
      'and is scored against the oracle ranking: all items by true weighted utility sum_o w_o P(o) for the user, surface and device, with the surface\'s default weights. ' +
      'NDCG uses the true utility as the (linear) gain and the log2 discount; definitions in `tools/eval/metrics.ts`. ' +
      `Sanity check: the oracle list scored by the same code gets NDCG@10 ${f3(r.oracleCheck.ndcg10)}, NDCG@50 ${f3(r.oracleCheck.ndcg50)}.`,
  );
  L.push('');
  L.push('## Headline');
  L.push('');
  L.push('| | value | target | |');
  L.push('|---|---|---|---|');
  const ci = h.ci;
  L.push(`| engine NDCG@50 (default knobs, exploration NONE) | ${pm(ci.engineNdcg50)} | | |`);
  L.push(`| popularity / no-shortcuts NDCG@50 | ${pm(ci.popularityNdcg50)} / ${pm(ci.noShortcutsNdcg50)} | | |`);
  L.push(`| engine / popularity | ${f2(h.vsPopularity)}x (${f2(ci.vsPopularity.lo)}-${f2(ci.vsPopularity.hi)}) | >= ${h.targets.vsPopularityAtLeast}x | ${yes(h.targets.vsPopularityMet)} |`);
  L.push(`| engine / no-shortcuts | ${f3(h.vsNoShortcuts)}x (${f3(ci.vsNoShortcuts.lo)}-${f3(ci.vsNoShortcuts.hi)}) | >= ${h.targets.vsNoShortcutsAtLeast}x | ${yes(h.targets.vsNoShortcutsMet)} |`);
  L.push(`| HAP NDCG@50 at budget 0.2 / at 1.0 | ${f3(r.hap.ratioNdcg50At20vs100)} | >= ${r.hap.targets.ndcgRatioAtLeast} | |`);
  L.push(`| HAP prerank ms at budget 0.2 / at 1.0 | ${f3(r.hap.ratioPrerankMsAt20vs100)} | <= ${r.hap.targets.timeRatioAtMost} | HAP target ${yes(r.hap.targets.met)} |`);
  const r20 = r.hap.routing.rows.find((x) => x.budget === 0.2);
  const side = (d: Interval) => (d.lo > 0 ? 'interval above 0' : d.hi < 0 ? 'interval below 0: top-B routing is better' : 'interval includes 0');
  L.push(`| HAP - top-B routing NDCG@50 at budget 0.2 | ${r20 ? pm(r20.difference, 4) : '-'} | > 0 | ${yes(r.hap.targets.beatsTopAt20)}${r20 ? ` (${side(r20.difference)})` : ''} |`);
  const a = r.ann.targets;
  L.push(
    `| ANN recall@${r.ann.k} vs exact at the default setting | ${f3(r.ann.defaultRecallAtK)} | >= ${a.recallAtLeast} on the ${a.onWorldItems / 1e6}M world | ${a.met === null ? `n/a (this world has ${a.thisWorldItems} items)` : yes(a.met)} |`,
  );
  const rt = r.retrieval;
  L.push(`| retrieval: share of the true top ${rt.trueTopN} among the K = ${rt.k} candidates (default index setting, warm users) | ${pm(rt.index)} | | |`);
  L.push('');
  L.push(
    `± = half-width of the 95% interval over requests (mean ± 1.96 stderr, ${ci.engineNdcg50.n} requests); ratios: paired percentile bootstrap over users (${ci.bootstrapIters} resamples).`,
  );
  L.push('');
  L.push('## Engine and baselines');
  L.push('');
  L.push('| configuration | NDCG@10 | NDCG@50 | recall@50 | categories in top 20 | brands in top 20 | max brand run | new share | prerank ms | request ms | how |');
  L.push('|---|---|---|---|---|---|---|---|---|---|---|');
  const o = r.oracleCheck;
  L.push(
    `| oracle | ${f3(o.ndcg10)} | ${f3(o.ndcg50)} | ${f3(o.recall50)} | ${f2(o.distinctCategories20)} | ${f2(o.distinctBrands20)} | ${f2(o.maxBrandRun)} | ${f3(o.newShare)} | - | - | the top 50 by true utility (the reference of every NDCG) |`,
  );
  for (const n of [...MAIN_CONFIGS.slice(0, 4), 'engine+exploration', ...MAIN_CONFIGS.slice(4)]) {
    const c = r.configs[n];
    L.push(
      `| ${n} | ${pm(c.ndcg10Ci)} | ${pm(c.ndcg50Ci)} | ${f3(c.recall50)} | ${f2(c.distinctCategories20)} | ${f2(c.distinctBrands20)} | ${f2(c.maxBrandRun)} | ${f3(c.newShare)} | ${f2(c.prerankMs)} | ${f2(c.requestMs)} | ${c.description} |`,
    );
  }
  L.push('');
  L.push('By segment and by surface (NDCG@50; users in parentheses; each user is asked on one surface, the sample rotating through them):');
  L.push('');
  const segs = Object.keys(r.sample.segments);
  const surfs = Object.keys(r.sample.surfaces);
  L.push(`| configuration | ${segs.map((s) => `${s} (${r.sample.segments[s]})`).join(' | ')} | ${surfs.map((s) => `${s} (${r.sample.surfaces[s]})`).join(' | ')} |`);
  L.push(`|---|${[...segs, ...surfs].map(() => '---').join('|')}|`);
  for (const n of MAIN_CONFIGS) {
    const c = r.configs[n];
    L.push(`| ${n} | ${segs.map((s) => f3(c.bySegment[s]?.ndcg50 ?? null)).join(' | ')} | ${surfs.map((s) => f3(c.bySurface[s]?.ndcg50 ?? null)).join(' | ')} |`);
  }
  L.push('');
  L.push('### Per objective');
  L.push('');
  L.push(r.objectives.note + '.');
  L.push(`Sanity check: each objective's oracle list scored against itself gets NDCG@50 ${f3(r.objectives.selfCheckNdcg50)}.`);
  L.push('');
  const objs = r.objectives.names;
  L.push(`| configuration | weighted NDCG@10 / @50 | ${objs.map((o) => `${o} NDCG@10 / @50`).join(' | ')} |`);
  L.push(`|---|---|${objs.map(() => '---').join('|')}|`);
  const wo = r.objectives.weightedOracle;
  L.push(`| oracle (weighted utility) | ${f3(o.ndcg10)} / ${f3(o.ndcg50)} | ${objs.map((x) => `${f3(wo[x].ndcg10)} / ${f3(wo[x].ndcg50)}`).join(' | ')} |`);
  for (const n of MAIN_CONFIGS) {
    const c = r.configs[n];
    L.push(`| ${n} | ${f3(c.ndcg10)} / ${f3(c.ndcg50)} | ${objs.map((x) => `${f3(c.byObjective[x].ndcg10)} / ${f3(c.byObjective[x].ndcg50)}`).join(' | ')} |`);
  }
  L.push('');
  L.push('![NDCG@k of the engine and the baselines](baselines.svg)');
  L.push('');
  L.push('## HAP heavy budget');
  L.push('');
  L.push(r.hap.note + '.');
  L.push('');
  L.push('| heavy_budget | NDCG@10 | NDCG@50 | NDCG@50 / budget 1.0 | prerank ms | prerank ms / budget 1.0 | strong-scored share |');
  L.push('|---|---|---|---|---|---|---|');
  const full = r.hap.curve.find((c) => c.budget === 1);
  for (const c of r.hap.curve) {
    L.push(
      `| ${c.budget} | ${f3(c.ndcg10)} | ${f3(c.ndcg50)} | ${full ? f3(c.ndcg50 / full.ndcg50) : '-'} | ${f2(c.prerankMs)} | ${full && full.prerankMs > 0 ? f3(c.prerankMs / full.prerankMs) : '-'} | ${f3(c.strongFraction)} |`,
    );
  }
  L.push('');
  L.push('### HAP routing vs top-B routing');
  L.push('');
  L.push(r.hap.routing.note + '.');
  L.push('');
  L.push('| heavy_budget | NDCG@50 HAP | NDCG@50 top-B | HAP - top-B (95% interval) | prerank ms HAP | prerank ms top-B |');
  L.push('|---|---|---|---|---|---|');
  for (const x of r.hap.routing.rows) {
    L.push(
      `| ${x.budget} | ${f3(x.uncertaintyNdcg50)} | ${f3(x.topNdcg50)} | ${x.difference.mean.toFixed(4)} (${x.difference.lo.toFixed(4)} to ${x.difference.hi.toFixed(4)}) | ${f2(x.uncertaintyPrerankMs)} | ${f2(x.topPrerankMs)} |`,
    );
  }
  L.push('');
  L.push('![HAP budget vs NDCG@50 and prerank time](hap-budget.svg)');
  L.push('');
  L.push('## Index search (ANN) vs exact');
  L.push('');
  L.push(`Index ${r.world.index.factory}, bundle default ${r.world.index.nprobe !== null ? `nprobe ${r.world.index.nprobe}` : r.world.index.efSearch !== null ? `efSearch ${r.world.index.efSearch}` : 'exact'}. ${r.ann.note}.`);
  L.push(
    `Users measured: ${r.ann.usersMeasured} (${r.ann.coldUsersSkipped} cold skipped). Embedding check: the light scores of ${r.ann.embeddingCheck.items} returned items differ from <embedding, item> + bias term by at most ${r.ann.embeddingCheck.maxAbsDiff.toExponential(1)}.`,
  );
  L.push('');
  L.push(`| setting | recall@${r.ann.k} | recall@50 | share of the true top ${r.retrieval.trueTopN} | search ms (one query, in process) | NDCG@50 (API) | retrieval stage ms (API) |`);
  L.push('|---|---|---|---|---|---|---|');
  for (const p of r.ann.curve) {
    L.push(
      `| ${p.label}${p.isDefault ? ' (default)' : ''} | ${pm(p.recallAtK, 4)} | ${pm(p.recallAt50, 4)} | ${pm(p.truthRecall)} | ${f2(p.searchMs)} | ${pm(p.ndcg50)} | ${f2(p.retrievalMs)} |`,
    );
  }
  L.push('');
  L.push('![Index search recall and NDCG](ann-search.svg)');
  L.push('');
  L.push('## Retrieval recall against the true top items');
  L.push('');
  L.push(rt.note + '.');
  L.push('');
  L.push(`| candidates | share of the true top ${rt.trueTopN} | users |`);
  L.push('|---|---|---|');
  L.push(`| index search, default setting, K = ${rt.k} (the engine's ANN candidates) | ${pm(rt.index)} | ${rt.warmUsers} warm |`);
  L.push(`| the same plus the fresh source (up to ${rt.freshKeep} new items) | ${pm(rt.indexPlusFresh)} | ${rt.warmUsers} warm |`);
  L.push(`| exact top ${rt.k} by inner product (a perfect index) | ${pm(rt.exact)} | ${rt.warmUsers} warm |`);
  L.push(`| exact top ${rt.exactReference.k} by inner product (the no-shortcuts K) | ${pm(rt.exactReference.recall)} | ${rt.warmUsers} warm |`);
  L.push(`| cold users: popular top ${rt.k} plus fresh picks | ${rt.coldPopularPlusFresh ? pm(rt.coldPopularPlusFresh) : '-'} | ${rt.coldUsers} cold |`);
  L.push('');
  const rs = Object.entries(rt.indexBySurface);
  if (rs.length > 0) {
    L.push(`Index search at the default setting by surface: ${rs.map(([k, v]) => `${k} ${f3(v.recall)} (${v.users} users)`).join(', ')}.`);
    L.push('');
  }
  L.push('## Diversity trade-off');
  L.push('');
  L.push(r.diversity.note + '.');
  L.push('');
  L.push('| method | lambda | NDCG@10 | categories in top 20 | brands in top 20 | max brand run | Pareto |');
  L.push('|---|---|---|---|---|---|---|');
  for (const p of r.diversity.points) {
    L.push(`| ${p.method} | ${p.lambda ?? '-'} | ${f3(p.ndcg10)} | ${f2(p.distinctCategories20)} | ${f2(p.distinctBrands20)} | ${f2(p.maxBrandRun)} | ${p.pareto ? 'yes' : ''} |`);
  }
  L.push('');
  L.push('![Diversity Pareto plot](diversity-pareto.svg)');
  L.push('');
  const x = r.exploration;
  L.push('## Exploration and novelty');
  L.push('');
  L.push(x.note + '.');
  L.push(`New items are ${pct(x.catalogNewShare)} of the catalog and ${pct(x.oracleNewShare)} of the oracle's top 50.`);
  L.push('');
  L.push(`| epsilon | start | NDCG@50 | new share | placed by exploration | new recall@50 | ${x.rows[0]?.newByBucket.map((b) => `new share, positions ${b.positions}`).join(' | ') ?? ''} |`);
  L.push(`|---|---|---|---|---|---|${x.rows[0]?.newByBucket.map(() => '---').join('|') ?? ''}|`);
  for (const row of x.rows) {
    L.push(
      `| ${row.epsilon} | ${row.start} | ${pm(row.ndcg50)} | ${f3(row.newShare)} | ${f3(row.explorationShare)} | ${f3(row.newRecall50)} | ${row.newByBucket.map((b) => f3(b.share)).join(' | ')} |`,
    );
  }
  L.push('');
  L.push('![New-item share by position](exploration-position.svg)');
  L.push('');
  const rx = r.reactivity;
  L.push('## Reactivity');
  L.push('');
  L.push(rx.note + '.');
  L.push('');
  L.push('| | before the burst | after the burst |');
  L.push('|---|---|---|');
  L.push(`| items of the burst's category in the top 20 (mean over ${rx.users} users) | ${pm(rx.before, 2)} | ${pm(rx.after, 2)} |`);
  L.push(`| the same, not counting the clicked items themselves | | ${pm(rx.afterOtherItems, 2)} |`);
  L.push(`| users with at least one such item in the top 20 | ${pct(rx.usersWithAnyBefore)} | ${pct(rx.usersWithAnyAfter)} |`);
  L.push('');
  L.push(`RecordEvents acknowledged ${rx.eventsAccepted} of ${rx.eventsSent} events.`);
  L.push('');
  L.push('## Reduced precision');
  L.push('');
  const p = r.precision;
  if (p === null) {
    L.push('Not measured (no precision compared).');
  } else {
    L.push(p.note + '.');
    L.push('');
    L.push(precisionCpuLine(p));
    L.push('');
    L.push(...precisionTable(p));
    L.push('');
    L.push(
      `± = half-width of the 95% interval over requests (${p.reference.requests} requests); the ratio's interval: paired percentile bootstrap over requests (${p.bootstrapIters} resamples); ` +
        `same order = the top ${p.bar.k} identical to fp32's, position by position.`,
    );
  }
  L.push('');
  return L.join('\n');
}

/**
 * The reduced-precision table (markdown, also printed by the CLI): the fp32
 * reference, then each compared precision with its ratio, overlap and verdict.
 */
export function precisionTable(p: PrecisionSection): string[] {
  const b = p.bar;
  const L: string[] = [];
  L.push(`| rankers | engine | NDCG@10 | NDCG@50 | NDCG@50 / fp32 (95% interval) | top-${b.k} overlap >= ${b.overlapAtLeast} | mean overlap | min overlap | same order | bar |`);
  L.push('|---|---|---|---|---|---|---|---|---|---|');
  const ref = p.reference;
  L.push(`| fp32 (reference) | ${ref.engine} | ${pm(ref.ndcg10)} | ${pm(ref.ndcg50)} | 1 | | ${b.k} | ${b.k} | | |`);
  for (const r of p.rows) {
    const q = r.ndcg50Ratio;
    L.push(
      `| ${r.precision} | ${r.engine} | ${pm(r.ndcg10)} | ${pm(r.ndcg50)} | ${q.ratio.toFixed(4)} (${q.lo.toFixed(4)}-${q.hi.toFixed(4)}) | ${pct(r.overlap.shareAtLeastBar)} | ` +
        `${r.overlap.mean.toFixed(2)} | ${r.overlap.min} | ${pct(r.identicalShare)} | ${r.pass ? 'pass' : `FAIL: ${r.failures.join('; ')}`} |`,
    );
  }
  return L;
}

/** One line: the CPU, what 'auto' picks on it and what the default engine runs. */
export function precisionCpuLine(p: PrecisionSection): string {
  const c = p.cpu.onednn;
  const flags = p.cpu.flags === null ? 'CPU flags unknown (no /proc/cpuinfo)' : `CPU flags: ${Object.entries(p.cpu.flags).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ')}`;
  return (
    `oneDNN ISA ${c.isa} (int8 dot products ${c.vnni ? 'yes' : 'no'}, bf16 dot products ${c.bf16 ? 'yes' : 'no'}, AMX ${c.amx ? 'yes' : 'no'}); ${flags}. ` +
    `'auto' picks (by timing the candidates at load) ${p.auto.ranker} for the ranker and ${p.auto.preranker} for the strong pre-ranker on this CPU; the default engine runs the ranker in ${p.defaultEngine.ranker} and the strong pre-ranker in ${p.defaultEngine.preranker}.`
  );
}

/** Writes report.json, report.md and the plots into `dir`; returns the files written. */
export async function writeReport(r: EvalReport, dir: string): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ['report.json', JSON.stringify(r, null, 2) + '\n'],
    ['report.md', markdown(r)],
    ['hap-budget.svg', hapPlot(r)],
    ['diversity-pareto.svg', diversityPlot(r)],
    ['baselines.svg', baselinePlot(r)],
    ['ann-search.svg', annPlot(r)],
    ['exploration-position.svg', explorationPlot(r)],
  ];
  for (const [name, text] of files) await fs.writeFile(path.join(dir, name), text);
  return files.map(([name]) => path.join(dir, name));
}
