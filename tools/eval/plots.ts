// The report's SVG plots: the HAP budget curve, the diversity trade-off, the
// index search settings, new items by position and the baselines' NDCG@k.
import type { EvalReport } from './types';
import { renderLinePlot } from './svg';

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
