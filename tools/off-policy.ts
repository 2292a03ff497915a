// Off-policy evaluation from the impression log: the clicks per page that
// another exploration policy (another epsilon) would get, estimated from the
// pages a logging policy served (IPS and self-normalised SNIPS over the
// logged propensities), against its true value: the same simulation run with
// that policy serving.
//
//   npm run off-policy -- [--world DIR] [--items N] [--sessions 3000] [--log-epsilon 0.3]
//        [--targets 0.3,0.1,0] [--out DIR] [--seed 1]
//
// The estimator is position-wise: a click at position p is credited to the
// item placed there, weighted by pi_target / pi_log of that placement given
// the positions before it. For a policy that differs in epsilon only, the
// ratio follows from the logged propensity: an organic item where the mix
// drew (logged 1 - eps) has (1 - eps') / (1 - eps), an exploration pick
// (logged eps x its pick chance) eps' / eps, and a place where nothing was
// drawn (logged 1) 1. (Exploration picks are taken as drawn: the organic list
// the policy mixes from is longer than the page, so it never runs out.)
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { pairKey, readActions, readImpressions } from './logs';
import { Rng } from '../src/util/random';
import { simulate } from './simulate';
import { DEFAULT_WORLD, WorldConfig } from './world/schema';

/** A served page: per position, the logged propensity, whether it was an exploration pick, and the clicks it got. */
export interface LoggedPage {
  propensity: number[];
  explored: boolean[];
  clicks: number[];
}

export interface Estimate {
  ips: number;
  snips: number;
  /** 95% bootstrap intervals over pages. */
  ipsCi: [number, number];
  snipsCi: [number, number];
}

/** pi_target / pi_log of one placement (see the header). */
export function placementRatio(propensity: number, explored: boolean, logEps: number, targetEps: number): number {
  if (explored) return logEps > 0 ? targetEps / logEps : 1;
  if (Math.abs(propensity - 1) < 1e-9) return 1;
  return (1 - targetEps) / (1 - logEps);
}

/** IPS and SNIPS of clicks per page over `pages` (no intervals). */
function point(pages: readonly LoggedPage[], logEps: number, targetEps: number): { ips: number; snips: number } {
  let ips = 0;
  let snips = 0;
  const positions = Math.max(0, ...pages.map((p) => p.clicks.length));
  // SNIPS normalises each position's weights (their mean is 1 in expectation).
  for (let q = 0; q < positions; q++) {
    let num = 0;
    let den = 0;
    for (const p of pages) {
      if (q >= p.clicks.length) continue;
      const w = placementRatio(p.propensity[q], p.explored[q], logEps, targetEps);
      num += w * p.clicks[q];
      den += w;
    }
    ips += num / pages.length;
    snips += den > 0 ? num / den : 0;
  }
  return { ips, snips };
}

/** The estimates with 95% intervals from `boot` bootstrap resamples of the pages. */
export function estimate(pages: readonly LoggedPage[], logEps: number, targetEps: number, boot = 200, seed = 1): Estimate {
  const { ips, snips } = point(pages, logEps, targetEps);
  const rng = new Rng(seed);
  const ipsB: number[] = [];
  const snipsB: number[] = [];
  for (let b = 0; b < boot; b++) {
    const sample = Array.from({ length: pages.length }, () => pages[rng.int(pages.length)]);
    const e = point(sample, logEps, targetEps);
    ipsB.push(e.ips);
    snipsB.push(e.snips);
  }
  const ci = (xs: number[]): [number, number] => {
    const s = [...xs].sort((a, b) => a - b);
    return [s[Math.floor(0.025 * (s.length - 1))], s[Math.ceil(0.975 * (s.length - 1))]];
  };
  return { ips, snips, ipsCi: ci(ipsB), snipsCi: ci(snipsB) };
}

/** The pages of a simulation's output: the impression log joined with its clicks (same user and item, within the session). */
export async function loggedPages(simOut: string): Promise<LoggedPage[]> {
  const lines = await readImpressions(path.join(simOut, 'impressions'));
  const first = lines.length > 0 ? Math.min(...lines.map((l) => l.ts)) : Infinity;
  const clicks = await readActions(path.join(simOut, 'events.jsonl'), ['click'], first);
  // A session's actions fall within 5 s after its page (tools/simulate.ts).
  return lines.map((l) => ({
    propensity: l.items.map((it) => it.propensity),
    explored: l.items.map((it) => it.explored),
    clicks: l.items.map((it) => (clicks.get(pairKey(l.user, it.item))?.[0] ?? []).filter((t) => t >= l.ts && t < l.ts + 5000).length),
  }));
}

export interface OffPolicyRow {
  epsilon: number;
  truth: number;
  truthCi: [number, number];
  estimate: Estimate;
}

/** Simulates with the logging policy, estimates each target from its log, then simulates each target for its true value. */
export async function offPolicy(o: { root: string; world: WorldConfig; out: string; sessions: number; logEpsilon: number; targets: number[]; seed: number; log?: (m: string) => void }): Promise<OffPolicyRow[]> {
  const sim = (eps: number, dir: string) =>
    simulate({ root: o.root, world: o.world, out: dir, days: 1, sessionsPerDay: o.sessions, seed: o.seed, examPower: 0.7, epsilon: eps, results: 20, log: o.log });
  const logged = path.join(o.out, `log-eps-${o.logEpsilon}`);
  await sim(o.logEpsilon, logged);
  const pages = await loggedPages(logged);
  const rows: OffPolicyRow[] = [];
  for (const eps of o.targets) {
    const est = estimate(pages, o.logEpsilon, eps, 200, o.seed);
    const dir = path.join(o.out, `truth-eps-${eps}`);
    if (eps !== o.logEpsilon) await sim(eps, dir);
    const truthPages = await loggedPages(eps !== o.logEpsilon ? dir : logged);
    const on = estimate(truthPages, eps, eps, 200, o.seed + 1);
    rows.push({ epsilon: eps, truth: on.ips, truthCi: on.ipsCi, estimate: est });
    o.log?.(`epsilon ${eps}: true ${on.ips.toFixed(4)} clicks/page, IPS ${est.ips.toFixed(4)}, SNIPS ${est.snips.toFixed(4)}`);
  }
  return rows;
}

/** The estimates against the true values, one row per target epsilon (markdown). */
export function offPolicyTable(rows: readonly OffPolicyRow[]): string[] {
  const f = (x: number) => x.toFixed(4);
  const pct = (e: number, t: number) => `${(100 * (e / t - 1)).toFixed(1)}%`;
  return [
    '| target epsilon | true value | IPS | IPS error | SNIPS | SNIPS error |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.epsilon} | ${f(r.truth)} [${f(r.truthCi[0])}, ${f(r.truthCi[1])}] | ${f(r.estimate.ips)} [${f(r.estimate.ipsCi[0])}, ${f(r.estimate.ipsCi[1])}] | ${pct(r.estimate.ips, r.truth)} | ${f(r.estimate.snips)} [${f(r.estimate.snipsCi[0])}, ${f(r.estimate.snipsCi[1])}] | ${pct(r.estimate.snips, r.truth)} |`),
  ];
}

/** What the logging policy was and what the value is (one paragraph). */
export function offPolicySetting(sessions: number, logEpsilon: number): string {
  return `Logging policy: epsilon-greedy with epsilon ${logEpsilon}, ${sessions} simulated sessions of 20 results (one day). Value: clicks per page. True value: the same simulation (same seed and users) with the target policy serving. 95% bootstrap intervals over pages.`;
}

function report(rows: OffPolicyRow[], o: { sessions: number; logEpsilon: number; command: string }): string {
  return [
    `# Off-policy estimates from the impression log`,
    '',
    `${new Date().toISOString()} · \`${o.command}\``,
    '',
    offPolicySetting(o.sessions, o.logEpsilon),
    '',
    ...offPolicyTable(rows),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      world: { type: 'string', default: path.join('.data', 'demo-world') },
      items: { type: 'string' },
      sessions: { type: 'string', default: '3000' },
      'log-epsilon': { type: 'string', default: '0.3' },
      targets: { type: 'string', default: '0.3,0.1,0' },
      out: { type: 'string', default: path.join('.data', 'off-policy') },
      seed: { type: 'string', default: '1' },
    },
  });
  const targets = values.targets!.split(',').map(Number);
  const logEpsilon = Number(values['log-epsilon']);
  if (!(logEpsilon > 0 && logEpsilon < 1) || targets.some((t) => !(t >= 0 && t < 1))) throw new Error('--log-epsilon must be in (0, 1) and --targets in [0, 1)');
  const world = values.items !== undefined ? { ...DEFAULT_WORLD, items: Number(values.items) } : DEFAULT_WORLD;
  const out = path.resolve(values.out!);
  const sessions = Number(values.sessions);
  const rows = await offPolicy({ root: path.resolve(values.world!), world, out, sessions, logEpsilon, targets, seed: Number(values.seed), log: (m) => process.stderr.write(m + '\n') });
  const md = report(rows, { sessions, logEpsilon, command: `npm run off-policy -- ${process.argv.slice(2).join(' ')}` });
  await fs.writeFile(path.join(out, 'off-policy.md'), md);
  await fs.writeFile(path.join(out, 'off-policy.json'), JSON.stringify(rows, null, 2));
  process.stdout.write(md);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
