// Traffic over the demo world: simulated users, who have the world's true
// preferences, ask the engine for pages through its gRPC API, look at them
// with a position bias, click, wishlist, cart and purchase as the truth says,
// and send what they did back with RecordEvents, for days of simulated time.
// What comes out is what a shop would have: the engine's impression log
// (what was served, with propensities) and the recorded events. The trainers
// (train/) learn from these only, never from the truth.
//
//   npm run simulate -- [--world DIR (an existing world is used as it is)] [--items N] [--days 2] [--sessions-per-day 2000]
//        [--out DIR] [--seed 1] [--exam-power 0.7] [--epsilon 0.1] [--results 20] [--weights click=0,purchase=1]
//
// --weights sets the objective weights of every request (the logging
// policy's objective; default: the surface's), e.g. a policy that ranks by
// purchases alone, to log what a ranker other than the best one served.
// The engine runs in this process on a clock the simulation drives (sessions
// spread over each day, starting at the world's referenceTime), serving
// through a RankingService on a loopback port as any client would call it.
// Behaviour per served page, position p (1-based):
//   seen with probability exam(p) = p^-examPower (the position bias);
//   seen: clicked with the true P(click), then wishlisted, carted and bought
//   with the true P(wishlist) / P(click), ... (capped at 1) of a click;
//   every served item gets an impression event (it was on the page).
// Writes OUT/impressions/ (the engine's log, fresh each run), OUT/events.jsonl (the world's
// event format: {"user","item","action","ts"}, seed events first, then the
// simulated ones) and OUT/simulation.json (the settings, the true position
// bias curve and the counts).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import pino from 'pino';

import { ImpressionRecorder } from '../src/api/impressions';
import { RankingService } from '../src/api/service';
import { loadBundle } from '../src/bundle/loader';
import { RankingClient } from '../src/client';
import { createMetrics } from '../src/metrics/metrics';
import { ACTION_NAMES } from '../src/models/schema';
import { Engine } from '../src/pipeline/engine';
import { ENGINE_DEFAULTS } from '../src/pipeline/options';
import { openImpressionLog } from '../src/state/impression-log';
import { Rng } from '../src/util/random';
import { WIRE_DEVICE } from './eval/serve';
import { SESSION_MS } from './logs';
import { ensureWorld } from './world/cache';
import { DAY_MS, DEFAULT_WORLD, WorldConfig } from './world/schema';
import { trueProbabilities } from './world/truth';
import { loadTruth } from './world/truth-files';

export interface SimulateOptions {
  /** World directory (generated with `world` if missing). */
  root: string;
  world: WorldConfig;
  out: string;
  days: number;
  sessionsPerDay: number;
  seed: number;
  /** exam(p) = p^-examPower. */
  examPower: number;
  epsilon: number;
  results: number;
  /** Objective weights of every request (absent: the surface's defaults). */
  weights?: Record<string, number>;
  log?: (msg: string) => void;
}

export interface SimulationSummary {
  days: number;
  sessions: number;
  impressions: number;
  actions: Record<string, number>;
  /** Clicks per position (index 0: position 1), for the position-bias check. */
  clicksByPosition: number[];
  examPower: number;
  /** exam(p) for p = 1..results: the true position bias. */
  positionBias: number[];
  start: string;
  end: string;
}

const ACTION_WIRE = { impression: 'ACTION_TYPE_IMPRESSION', click: 'ACTION_TYPE_CLICK', wishlist: 'ACTION_TYPE_WISHLIST', cart: 'ACTION_TYPE_CART', purchase: 'ACTION_TYPE_PURCHASE' } as const;
type ActionName = keyof typeof ACTION_WIRE;

/**
 * What a user does with a page (`p`: the true probabilities, 4 per item):
 * an impression of every item; an item looked at (the position bias) is
 * clicked with P(click), then wishlisted, carted, bought with their chances
 * given the click. Counts go to `summary`.
 */
function actOn(items: string[], p: Float32Array, positionBias: number[], clock: number, rng: Rng, summary: SimulationSummary): { item: string; action: ActionName; ts: number }[] {
  const out: { item: string; action: ActionName; ts: number }[] = [];
  const add = (item: string, action: ActionName, ts: number) => {
    out.push({ item, action, ts });
    if (action !== 'impression') summary.actions[action]++;
  };
  items.forEach((item, i) => {
    add(item, 'impression', clock);
    summary.impressions++;
    if (rng.next() >= positionBias[i]) return; // not looked at
    const [click, wishlist, cart, purchase] = [p[i * 4], p[i * 4 + 1], p[i * 4 + 2], p[i * 4 + 3]];
    if (rng.next() >= click) return;
    summary.clicksByPosition[i]++;
    add(item, 'click', clock + 1000);
    if (rng.next() < Math.min(1, wishlist / click)) add(item, 'wishlist', clock + 2000);
    if (rng.next() < Math.min(1, cart / click)) add(item, 'cart', clock + 3000);
    if (rng.next() < Math.min(1, purchase / click)) add(item, 'purchase', clock + 4000);
  });
  return out;
}

export async function simulate(o: SimulateOptions): Promise<SimulationSummary> {
  const log = o.log ?? (() => undefined);
  const paths = await ensureWorld(o.root, o.world, log);
  const bundle = await loadBundle(paths.bundle, { progress: false });
  const truth = await loadTruth(paths, bundle);
  const start = Date.parse(o.world.referenceTime);
  let clock = start;
  await fs.mkdir(o.out, { recursive: true });
  // The log is this run's alone (a reopened log would append to an earlier run's).
  await fs.rm(path.join(o.out, 'impressions'), { recursive: true, force: true });
  const metrics = createMetrics({ defaultMetrics: false });
  const logger = pino({ level: 'silent' });
  const engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, threads: 1, clock: () => clock, seedEvents: paths.events, rankerPrecision: 'fp32', metrics });
  const impressionLog = await openImpressionLog({ dir: path.join(o.out, 'impressions') });
  const recorder = new ImpressionRecorder(impressionLog, 1, metrics, logger);
  const service = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics, logger, impressions: recorder });
  await service.start();
  service.setEngine(engine);
  const client = new RankingClient(`127.0.0.1:${service.grpcPort}`, { deadlineMs: 60_000 });
  const events = await fs.open(path.join(o.out, 'events.jsonl'), 'w');
  const rng = new Rng(o.seed);
  const positionBias = Array.from({ length: o.results }, (_, i) => (i + 1) ** -o.examPower);
  const summary: SimulationSummary = {
    days: o.days,
    sessions: 0,
    impressions: 0,
    actions: { click: 0, wishlist: 0, cart: 0, purchase: 0 },
    clicksByPosition: new Array<number>(o.results).fill(0),
    examPower: o.examPower,
    positionBias,
    start: new Date(start).toISOString(),
    end: '',
  };
  try {
    // The world's own history first: a trainer reads one file of events.
    await events.write(await fs.readFile(paths.events, 'utf8'));
    const total = Math.round(o.days * o.sessionsPerDay);
    const users = truth.users.info;
    for (let s = 0; s < total; s++) {
      // Sessions spread over each day; the clock never goes back (a session takes 5 s).
      clock = Math.max(clock, start + Math.floor(((s + rng.next()) / o.sessionsPerDay) * DAY_MS));
      const u = rng.int(users.length);
      const user = users[u];
      const res = await client.rank({
        user_id: user.id,
        num_results: o.results,
        context: { surface: 'SURFACE_HOME', device: WIRE_DEVICE[user.device] },
        options: { exploration_epsilon: o.epsilon, seed: o.seed * 1_000_003 + s + 1 },
        ...(o.weights ? { objective_weights: o.weights } : {}),
      });
      const rows = Int32Array.from(res.items, (it) => bundle.items.rowOf.get(it.item_id) ?? -1);
      if (rows.some((r) => r < 0)) throw new Error('the engine served an item the world does not have');
      const p = trueProbabilities(truth.coefficients, truth.items, truth.users, u, rows, { surface: 'home', device: user.device });
      const acted = actOn(res.items.map((it) => it.item_id), p, positionBias, clock, rng, summary);
      const out = acted.map((a) => ({ user_id: user.id, item_id: a.item, type: ACTION_WIRE[a.action], timestamp_ms: a.ts }));
      const lines = acted.map((a) => JSON.stringify({ user: user.id, item: a.item, action: a.action, ts: a.ts }) + '\n');
      clock += SESSION_MS; // the session's actions happened; the engine's clock is past them
      await client.recordEvents({ events: out });
      await events.write(lines.join(''));
      summary.sessions++;
      if (summary.sessions % 1000 === 0) log(`simulate: ${summary.sessions} / ${total} sessions`);
    }
    summary.end = new Date(clock).toISOString();
    await fs.writeFile(path.join(o.out, 'simulation.json'), JSON.stringify({ ...summary, seed: o.seed, epsilon: o.epsilon, results: o.results, ...(o.weights ? { weights: o.weights } : {}), world: path.resolve(o.root), actionNames: Object.values(ACTION_NAMES) }, null, 2));
    return summary;
  } finally {
    client.close();
    await events.close();
    await service.stop(1000);
    await recorder.close();
    await engine.close();
  }
}

/** The configuration of the world already at `root` (world.json), so an existing world is reused as it is. */
export async function existingWorld(root: string): Promise<WorldConfig | null> {
  try {
    return (JSON.parse(await fs.readFile(path.join(root, 'world.json'), 'utf8')) as { config: WorldConfig }).config;
  } catch {
    return null;
  }
}

/** --weights click=0,purchase=1: objective=weight pairs (the engine names an unknown objective). */
function parseWeights(v: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of v.split(',')) {
    const [k, w] = part.split('=');
    if (!k || w === undefined || !Number.isFinite(Number(w)) || Number(w) < 0) throw new Error(`--weights takes objective=weight pairs (weights >= 0), got ${part}`);
    out[k.trim()] = Number(w);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      world: { type: 'string', default: path.join('.data', 'demo-world') },
      items: { type: 'string' },
      days: { type: 'string', default: '2' },
      'sessions-per-day': { type: 'string', default: '2000' },
      out: { type: 'string', default: path.join('.data', 'simulation') },
      seed: { type: 'string', default: '1' },
      'exam-power': { type: 'string', default: '0.7' },
      epsilon: { type: 'string', default: '0.1' },
      results: { type: 'string', default: '20' },
      weights: { type: 'string' },
    },
  });
  const num = (name: keyof typeof values, min: number, max: number): number => {
    const v = Number(values[name]);
    if (!(v >= min && v <= max)) throw new Error(`--${name} must be a number in [${min}, ${max}], got ${String(values[name])}`);
    return v;
  };
  const root = path.resolve(values.world!);
  const world = values.items !== undefined ? { ...DEFAULT_WORLD, items: num('items', 100, 10_000_000) } : ((await existingWorld(root)) ?? DEFAULT_WORLD);
  const t0 = Date.now();
  const summary = await simulate({
    root,
    world,
    out: path.resolve(values.out!),
    days: num('days', 0.001, 365),
    sessionsPerDay: num('sessions-per-day', 1, 10_000_000),
    seed: num('seed', 0, 2 ** 31),
    examPower: num('exam-power', 0, 5),
    epsilon: num('epsilon', 0, 1),
    results: num('results', 1, 200),
    ...(values.weights !== undefined ? { weights: parseWeights(values.weights) } : {}),
    log: (m) => process.stderr.write(m + '\n'),
  });
  const { sessions, impressions, actions } = summary;
  console.log(`simulated ${sessions} sessions over ${summary.days} days (${summary.start} .. ${summary.end}) in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${impressions} impressions, ${Object.entries(actions).map(([k, v]) => `${v} ${k}`).join(', ')}; written to ${path.resolve(values.out!)}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
