// The several-interests section of report.md and its plot: NDCG@50 against
// miscalibration over the calibration weight.
import { INTEREST_DEFAULTS } from '../../src/models/interests';
import { renderLinePlot } from './svg';
import type { EvalReport, InterestPages } from './types';

const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);

function pagesCells(p: InterestPages): string {
  return `${f2(p.coverage)} | ${f2(p.largestShare)} | ${p.singleCategoryPages} / ${p.users} | ${f2(p.categories)} | ${f3(p.miscalibration)}`;
}

export function interestLines(r: EvalReport): string[] {
  const x = r.interests;
  const L: string[] = ['## Users with several interests', '', x.note + '.', ''];
  L.push('| diversity | pages | interest categories present | largest category\'s share | single-category pages | categories on the page | miscalibration |');
  L.push('|---|---|---|---|---|---|---|');
  for (const t of x.table) L.push(`| ${t.diversity} | ${t.when} | ${pagesCells(t)} |`);
  L.push('');
  const h = x.history;
  L.push(
    `What the histories can show (the last actions the engine reads, impressions aside): ${f2(h.coverage)} of these users' true interest categories have any action in them, ` +
      `and in ${h.oneCategoryUsers} of the ${h.users} users' histories a single category holds ${INTEREST_DEFAULTS.minShare * 100}% of the weight or more: interests derived from the history cannot reach further.`,
  );
  L.push('');
  L.push('| users | NDCG@50 before | NDCG@50 after | after / before | categories present before | after | miscalibration before | after |');
  L.push('|---|---|---|---|---|---|---|---|');
  for (const [name, seg] of [['two or more interests', x.several], ['one interest', x.one]] as const) {
    L.push(`| ${name} (${seg.users}) | ${f3(seg.before)} | ${f3(seg.after)} | ${f3(seg.before > 0 ? seg.after / seg.before : 0)} | ${f2(seg.beforePages.coverage)} | ${f2(seg.afterPages.coverage)} | ${f3(seg.beforePages.miscalibration)} | ${f3(seg.afterPages.miscalibration)} |`);
  }
  L.push(`| the main sample (every segment and surface) | ${f3(x.allUsers.oneVector)} | ${f3(x.allUsers.engine)} | ${f3(x.allUsers.ratio)} | | | | |`);
  L.push('');
  L.push('Calibration weight (default diversity), users with two or more interests:');
  L.push('');
  L.push('| calibration | NDCG@50 | interest categories present | largest share | single-category pages | categories | miscalibration |');
  L.push('|---|---|---|---|---|---|---|');
  for (const p of x.sweep) L.push(`| ${p.calibration} | ${f3(p.ndcg50)} | ${pagesCells(p)} |`);
  L.push('');
  L.push('![NDCG@50 vs miscalibration](interests-calibration.svg)');
  L.push('');
  return L;
}

export function interestPlot(r: EvalReport): string {
  return renderLinePlot({
    title: 'Users with several interests: NDCG@50 vs miscalibration over the calibration weight',
    xLabel: 'miscalibration KL(p || q~) of the top 20 (lower is better)',
    yLabel: 'NDCG@50 (true weighted utility)',
    series: [{ name: 'calibration weight (label)', points: r.interests.sweep.map((p) => ({ x: p.miscalibration, y: p.ndcg50, label: String(p.calibration) })) }],
  });
}
