// The cost of the HAP shortcut (the strong pre-ranker scores only a budget of
// the candidates): final NDCG and prerank stage time by heavy_budget, and HAP
// routing (the B candidates nearest the keep boundary) against an engine with
// hapRouting 'top' (the top B by light score) at the same budgets.
import { pairedDifference, ratio } from './metrics';
import type { Spec } from './session';
import { ConfigResult, DEFAULT_ROUTING_BUDGETS, EvalConfig, EvalReport, NO_EXPLORATION } from './types';

/** One configuration per heavy budget (the curve's and the routing comparison's), then one per routing budget from the top-routing engine. */
export function hapSpecs(cfg: EvalConfig): Spec[] {
  const routingBudgets = cfg.routingBudgets ?? DEFAULT_ROUTING_BUDGETS;
  const budgets = [...new Set([...cfg.budgets, ...routingBudgets])];
  return [
    ...budgets.map((b): Spec => ({ name: `hap-${b}`, description: `API: default knobs, heavy_budget ${b}, exploration NONE`, options: { ...NO_EXPLORATION, heavy_budget: b } })),
    ...routingBudgets.map((b): Spec => ({
      name: `hap-top-${b}`,
      description: `API: default knobs, heavy_budget ${b}, exploration NONE; engine with hapRouting 'top' (strong pre-ranker on the top B by light score)`,
      options: { ...NO_EXPLORATION, heavy_budget: b },
      engine: 'top-routing',
    })),
  ];
}

/** The report's HAP section: the budget curve, the ratios at 0.2 vs 1.0, and routing against top-B. */
export function hapSection(cfg: EvalConfig, configs: Record<string, ConfigResult>, perRequest: (name: string) => number[]): EvalReport['hap'] {
  const curve = cfg.budgets.map((b) => {
    const c = configs[`hap-${b}`];
    return { budget: b, ndcg10: c.ndcg10, ndcg50: c.ndcg50, prerankMs: c.prerankMs ?? 0, strongFraction: c.strongFraction ?? 0 };
  });
  const c20 = curve.find((c) => c.budget === 0.2);
  const c100 = curve.find((c) => c.budget === 1);
  const hapNdcg = c20 && c100 ? ratio(c20.ndcg50, c100.ndcg50) : null;
  const hapTime = c20 && c100 ? ratio(c20.prerankMs, c100.prerankMs) : null;
  const rows = (cfg.routingBudgets ?? DEFAULT_ROUTING_BUDGETS).map((b) => ({
    budget: b,
    uncertaintyNdcg50: configs[`hap-${b}`].ndcg50,
    topNdcg50: configs[`hap-top-${b}`].ndcg50,
    difference: pairedDifference(perRequest(`hap-${b}`), perRequest(`hap-top-${b}`)),
    uncertaintyPrerankMs: configs[`hap-${b}`].prerankMs,
    topPrerankMs: configs[`hap-top-${b}`].prerankMs,
  }));
  const r20 = rows.find((r) => r.budget === 0.2);
  return {
    note: 'default knobs (DPP diversity) with exploration NONE; heavy_budget varied; prerank ms = the prerank stage time from the debug stage reports, mean over requests',
    curve,
    ratioNdcg50At20vs100: hapNdcg,
    ratioPrerankMsAt20vs100: hapTime,
    routing: {
      note: "the same requests to the default engine (HAP: the strong pre-ranker scores the B candidates nearest the keep boundary) and to an engine with hapRouting 'top' (it scores the top B by light score); difference = HAP - top, paired per request, mean and 95% interval",
      rows,
    },
    targets: {
      ndcgRatioAtLeast: 0.99,
      timeRatioAtMost: 0.35,
      met: hapNdcg === null || hapTime === null ? null : hapNdcg >= 0.99 && hapTime <= 0.35,
      beatsTopAt20: r20 ? r20.difference.mean > 0 : null,
      beatsTopAt20Significant: r20 ? r20.difference.lo > 0 : null,
    },
  };
}
