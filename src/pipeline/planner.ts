// Fits the cascade into the time left before the deadline. The cost of each
// stage is predicted from an exponentially weighted mean of its recent
// durations; while the prediction (with a 25% margin) exceeds the time left,
// the next degradation is applied, in the order the stages declare
// (Stage.degrade). The default cascade's order:
//   1. smaller K (retrieval: a quarter, at least 5 x num_results),
//   2. no strong pre-rank model (prerank: heavy budget 0),
//   3. no MMR/DPP (policy: diversity none),
//   4. no ranker (rank: the page is composed from the pre-rank order).
import type { RankInput } from './request';

/** One step a stage can take to cost less. */
export interface Degradation {
  /** Its name in the response (`degradations`) and the metric. */
  step: string;
  /** Place in the order steps are taken (lower first). */
  order: number;
  /**
   * The request with the step applied, or null when it does not apply (the
   * option is already off, re-rank mode, ...).
   */
  apply(input: RankInput): RankInput | null;
  /** Predicted ms it saves, from the stages' predicted costs. */
  saves(cost: (stage: string) => number): number;
  /** Stages the step leaves out (each runs its stand-in, Stage.skip). */
  skips?: readonly string[];
}

export interface Plan {
  input: RankInput;
  /** Steps taken, in order. */
  steps: string[];
  /** Stages left out by the steps. */
  skip: ReadonlySet<string>;
}

const NOTHING: ReadonlySet<string> = new Set();
/** Predicted costs are taken this much larger (the planner's and the wait budget's margin). */
export const MARGIN = 1.25;

/** What the planner reads of a stage (context.ts's Stage has it). */
export interface PlannedStage {
  readonly id: string;
  readonly degrade?: readonly Degradation[];
}

export function plan(input: RankInput, stages: readonly PlannedStage[], cost: (stage: string) => number, now: number): Plan {
  const left = input.deadline - now;
  if (!Number.isFinite(left)) return { input, steps: [], skip: NOTHING };
  let predicted = stages.reduce((a, st) => a + cost(st.id), 0);
  const steps: string[] = [];
  const skip = new Set<string>();
  let current = input;
  const all = stages.flatMap((s) => s.degrade ?? []).sort((a, b) => a.order - b.order);
  for (const d of all) {
    if (predicted * MARGIN <= left) break;
    const next = d.apply(current);
    if (next === null) continue;
    current = next;
    predicted -= d.saves(cost);
    for (const s of d.skips ?? []) skip.add(s);
    steps.push(d.step);
  }
  return { input: current, steps, skip: skip.size > 0 ? skip : NOTHING };
}

/** The share of the time left that a wait on an outside service may take at most (the rest's predictions may be missing or low, as on a first call). */
export const WAIT_SHARE = 0.8;

/**
 * The time a stage may still wait on an outside service: what is left
 * before the deadline less the predicted cost (with the margin) of the
 * stages after `at` that will run, and at most WAIT_SHARE of it.
 */
export function waitBudget(deadline: number, now: number, stages: readonly PlannedStage[], at: number, cost: (stage: string) => number, skip: ReadonlySet<string>): number {
  if (!Number.isFinite(deadline)) return Infinity;
  let rest = 0;
  for (let i = at + 1; i < stages.length; i++) if (!skip.has(stages[i].id)) rest += cost(stages[i].id);
  const left = deadline - now;
  return Math.min(left - rest * MARGIN, left * WAIT_SHARE);
}
