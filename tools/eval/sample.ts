// The sampled users and their requests: each user, on one surface (the
// sample rotates through EVAL_SURFACES) and their own device, gets every
// configuration's list, computed here or through the API, scored against the
// truth of that request; then the index search is measured for them.
import { Surface } from '../../src/models/schema';
import { Rng } from '../../src/util/random';
import { emptySearchStats, measureSearch } from './ann';
import { computedLists } from './baselines';
import { countWhere } from './metrics';
import { serveSpec, toRows, warmUp, WIRE_DEVICE, WIRE_SURFACE } from './serve';
import type { Collected, EvalSession, Sample, Served, Spec, TruthFrame } from './session';
import { EVAL_SURFACES, NO_EXPLORATION } from './types';
import { RequestTruth, requestTruth, truthFrame } from './user-truth';

/** Stratified sample: the new-user segment in proportion (at least one of each segment when both exist). */
export function sampleUsers(segments: ('new' | 'returning')[], n: number, seed: number): number[] {
  const rng = new Rng(seed);
  const fresh = shuffle(segments.flatMap((s, i) => (s === 'new' ? [i] : [])), rng);
  const ret = shuffle(segments.flatMap((s, i) => (s === 'returning' ? [i] : [])), rng);
  n = Math.min(n, segments.length);
  let nNew = Math.round((n * fresh.length) / Math.max(1, segments.length));
  if (nNew === 0 && fresh.length > 0 && n > 1) nNew = 1;
  nNew = Math.min(nNew, fresh.length, n);
  const nRet = Math.min(ret.length, n - nNew);
  return [...ret.slice(0, nRet), ...fresh.slice(0, n - nRet)].sort((a, b) => a - b);
}

/** Shuffles in place (Fisher-Yates) and returns xs. */
export function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** Samples the users, warms the engines up, then collects every configuration's list for each user. */
export async function collectSamples(s: EvalSession, specs: Spec[]): Promise<Collected> {
  const users = sampleUsers(s.truth.users.info.map((u) => u.segment), s.cfg.users, s.cfg.seed);
  const c: Collected = {
    users,
    frame: truthFrame(s),
    samples: new Map(specs.map((x) => [x.name, []])),
    precisionLists: new Map(specs.filter((x) => x.name.startsWith('precision-')).map((x) => [x.name, []])),
    oracleScores: [],
    weightedOracle: [],
    objSelf: [],
    segments: {},
    surfaces: {},
    search: emptySearchStats(s),
  };
  const computed = computedLists(s);
  await warmUp(s, users, NO_EXPLORATION);
  for (let i = 0; i < users.length; i++) {
    await collectUser(s, specs, c, computed, i);
    if ((i + 1) % 25 === 0 || i + 1 === users.length) s.log(`${i + 1}/${users.length} users`);
  }
  return c;
}

/** The i-th sampled user's request on their surface: the truth, every configuration's list, the index search. */
async function collectUser(s: EvalSession, specs: Spec[], c: Collected, computed: (name: string, seed: number) => number[], i: number): Promise<void> {
  const u = c.users[i];
  const info = s.truth.users.info[u];
  const surface = EVAL_SURFACES[i % EVAL_SURFACES.length];
  c.segments[info.segment] = (c.segments[info.segment] ?? 0) + 1;
  c.surfaces[surface] = (c.surfaces[surface] ?? 0) + 1;
  const t = requestTruth(s, c.frame, u, surface, info.device);
  c.weightedOracle.push(t.objScores(t.oracle));
  c.objSelf.push(...t.objSelf);
  c.oracleScores.push(t.score(t.oracle));
  const seed = (s.cfg.seed * 1_000_003 + u) >>> 0 || 1;
  const user = { user_id: info.id, context: { surface: WIRE_SURFACE[surface], device: WIRE_DEVICE[info.device] } };
  const cache = new Map<string, Promise<Served>>();
  let engineResponse: Served['res'] | null = null;
  for (const spec of specs) {
    if (spec.options === null) {
      c.samples.get(spec.name)!.push(sampleOf(c.frame, t, computed(spec.name, seed), info.segment, surface, null));
      continue;
    }
    const served = await serveSpec(s, cache, spec, user, seed);
    if (spec.name === 'engine') engineResponse = served.res;
    const rows = toRows(s, spec.pick ? spec.pick(served.res) : served.res.items.map((it) => it.item_id));
    c.precisionLists.get(spec.name)?.push(rows);
    c.samples.get(spec.name)!.push(sampleOf(c.frame, t, rows, info.segment, surface, served));
  }
  await measureSearch(s, c.search, { id: info.id, surface }, t.utility, c.frame.allRows, engineResponse);
}

/** A list scored against the request's truth, with the debug stage report of its response (null: computed here). */
function sampleOf(frame: TruthFrame, t: RequestTruth, rows: number[], segment: string, surface: Surface, served: Served | null): Sample {
  const res = served?.res;
  const pre = res?.stages.find((x) => x.stage === 'prerank');
  const ret = res?.stages.find((x) => x.stage === 'retrieval');
  const m = pre ? /strong model on (\d+) of (\d+)/.exec(pre.note) : null;
  return {
    scores: t.score(rows),
    segment,
    surface,
    ...t.objScores(rows),
    prerankMs: pre ? pre.millis : null,
    retrievalMs: ret ? ret.millis : null,
    requestMs: served ? served.ms : null,
    strongFraction: m ? Number(m[1]) / Math.max(1, Number(m[2])) : pre ? 0 : null,
    newFlags: Uint8Array.from(rows, (r) => frame.isNew[r]),
    explorationShare: !res ? null : res.items.length > 0 ? countWhere(res.items, (it) => it.exploration) / res.items.length : 0,
  };
}
