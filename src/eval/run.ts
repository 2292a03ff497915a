// The quality evaluator: serves the real engine through its gRPC API (a
// RankingService on 127.0.0.1, ephemeral port, in this process) and calls it
// with a grpc-js client, as a user would; scores every returned list against
// the world's ground truth (the true weighted utility of every item for the
// user, surface and device, with the surface's default objective weights).
//
// The oracle list is the catalog's top items by true utility. Baselines:
//   random       50 rows drawn uniformly (seeded), computed here;
//   popularity   the top 50 by the bundle's item_bias, computed here;
//   two-tower    through the API: heavy_budget 0, diversity NONE, exploration
//                NONE, prerank_keep = num_results = 200, no brand-run rule,
//                debug on; the returned items re-sorted by their 'light'
//                stage score (the engine's two-tower score <user emb, item
//                emb> + the bundle's bias term) and cut to 50. Seen and
//                duplicate items are still filtered by the policy.
//   no-shortcuts through the API: retrieval_k = min(5000, items),
//                heavy_budget 1.0, diversity NONE, exploration NONE.
import { execFileSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';

import { loadBundle } from '../bundle/loader';
import { Engine, ENGINE_DEFAULTS } from '../engine/engine';
import { topK } from '../native';
import { createMetrics } from '../server/metrics';
import { loadProto, RankingService, SERVICE_NAME } from '../server/service';
import { DEFAULT_RANK } from '../server/validate';
import { Rng } from '../util/random';
import { ensureWorld } from '../world/cache';
import { Objective, OBJECTIVES, Surface, WorldConfig } from '../world/schema';
import { trueProbabilities, trueUtility } from '../world/truth';
import { loadTruth } from '../world/truth-files';
import { distinctCount, maxBrandRun, mean, ndcgAt, recallAt } from './metrics';

export const EVAL_SURFACES: Surface[] = ['home', 'browse', 'search'];
export const NUM_RESULTS = 50;

export interface EvalConfig {
  /** World directory (generated there if absent or made with another configuration). */
  root: string;
  world: WorldConfig;
  /** Users sampled (stratified by segment). */
  users: number;
  seed: number;
  budgets: number[];
  lambdas: number[];
  /** Scoring workers of the engine. */
  threads: number;
  command: string;
  log?: (msg: string) => void;
}

export const DEFAULT_BUDGETS = [0, 0.05, 0.1, 0.2, 0.5, 1.0];
export const DEFAULT_LAMBDAS = [0.3, 0.5, 0.7, 0.9];

export interface ListScores {
  ndcg10: number;
  ndcg50: number;
  recall50: number;
  distinctCategories20: number;
  distinctBrands20: number;
  maxBrandRun: number;
  length: number;
}

export interface ConfigResult extends ListScores {
  name: string;
  description: string;
  /** The wire options sent (null: computed in the evaluator, not requested). */
  options: Record<string, unknown> | null;
  requests: number;
  /** Mean prerank stage time (debug stage report), ms. */
  prerankMs: number | null;
  /** Mean client-side Rank latency, ms. */
  requestMs: number | null;
  /** Mean share of candidates the strong pre-ranker scored. */
  strongFraction: number | null;
  bySegment: Record<string, { users: number; ndcg10: number; ndcg50: number }>;
}

export interface EvalReport {
  command: string;
  date: string;
  commit: string;
  world: { root: string; items: number; users: number; dim: number; seed: number };
  sample: { users: number; segments: Record<string, number>; surfaces: Record<string, number>; seed: number };
  numResults: number;
  defaults: typeof DEFAULT_RANK;
  /** The oracle list scored by the same code: must be 1. */
  oracleCheck: { ndcg10: number; ndcg50: number; recall50: number; distinctCategories20: number; distinctBrands20: number; maxBrandRun: number };
  configs: Record<string, ConfigResult>;
  headline: {
    engineNdcg50: number;
    popularityNdcg50: number;
    noShortcutsNdcg50: number;
    twoTowerNdcg50: number;
    vsPopularity: number;
    vsNoShortcuts: number;
    targets: { vsPopularityAtLeast: number; vsNoShortcutsAtLeast: number; vsPopularityMet: boolean; vsNoShortcutsMet: boolean };
  };
  hap: {
    note: string;
    curve: { budget: number; ndcg10: number; ndcg50: number; prerankMs: number; strongFraction: number }[];
    ratioNdcg50At20vs100: number | null;
    ratioPrerankMsAt20vs100: number | null;
    targets: { ndcgRatioAtLeast: number; timeRatioAtMost: number; met: boolean | null };
  };
  diversity: {
    note: string;
    points: { method: string; lambda: number | null; ndcg10: number; distinctCategories20: number; distinctBrands20: number; maxBrandRun: number; pareto: boolean }[];
  };
  seconds: number;
}

// ---------------------------------------------------------------- client

interface WireItem {
  item_id: string;
  category: string;
  brand: string;
  stage_scores: { stage: string; score: number }[];
}
interface WireStage {
  stage: string;
  millis: number;
  candidates_in: number;
  note: string;
}
export interface WireRankResponse {
  items: WireItem[];
  stages: WireStage[];
}

type MethodDefs = Record<string, grpc.MethodDefinition<object, object>>;

/** A minimal promise client of ranking.v1.RankingService/Rank. */
export class RankClient {
  private readonly raw: grpc.Client;
  private readonly def: grpc.MethodDefinition<object, object>;

  constructor(address: string) {
    this.raw = new grpc.Client(address, grpc.credentials.createInsecure());
    this.def = (loadProto()[SERVICE_NAME] as unknown as MethodDefs).Rank;
  }

  rank(req: object, timeoutMs = 60_000): Promise<WireRankResponse> {
    return new Promise((resolve, reject) =>
      this.raw.makeUnaryRequest(this.def.path, this.def.requestSerialize, this.def.responseDeserialize, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res as WireRankResponse),
      ),
    );
  }

  close(): void {
    this.raw.close();
  }
}

// ---------------------------------------------------------------- helpers

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Stratified sample: the new-user segment in proportion (at least one of each segment when both exist). */
export function sampleUsers(segments: ('new' | 'returning')[], n: number, seed: number): number[] {
  const rng = new Rng(seed);
  const shuffle = (xs: number[]) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  };
  const fresh = shuffle(segments.flatMap((s, i) => (s === 'new' ? [i] : [])));
  const ret = shuffle(segments.flatMap((s, i) => (s === 'returning' ? [i] : [])));
  n = Math.min(n, segments.length);
  let nNew = Math.round((n * fresh.length) / Math.max(1, segments.length));
  if (nNew === 0 && fresh.length > 0 && n > 1) nNew = 1;
  nNew = Math.min(nNew, fresh.length, n);
  const nRet = Math.min(ret.length, n - nNew);
  return [...ret.slice(0, nRet), ...fresh.slice(0, n - nRet)].sort((a, b) => a - b);
}

/** Indices of the Pareto-optimal points when both coordinates are to be maximised. */
export function paretoFront(points: { a: number; b: number }[]): boolean[] {
  return points.map((p, i) => !points.some((q, j) => j !== i && q.a >= p.a && q.b >= p.b && (q.a > p.a || q.b > p.b)));
}

interface Sample {
  scores: ListScores;
  segment: string;
  prerankMs: number | null;
  requestMs: number | null;
  strongFraction: number | null;
}

interface Spec {
  name: string;
  description: string;
  /** Wire options (plus request fields); null for lists computed here. */
  options: Record<string, unknown> | null;
  numResults?: number;
  /** Turns the response into the scored rows (default: the items in order). */
  pick?: (res: WireRankResponse) => string[];
}

// ---------------------------------------------------------------- the run

export async function runEval(cfg: EvalConfig): Promise<EvalReport> {
  const t0 = Date.now();
  const log = cfg.log ?? (() => undefined);
  const paths = await ensureWorld(cfg.root, cfg.world, log);
  const bundle = await loadBundle(paths.bundle, { progress: false });
  const truth = await loadTruth(paths, bundle);
  const n = bundle.items.n;
  const metrics = createMetrics({ defaultMetrics: false });
  const engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, threads: cfg.threads, clock: 'bundle', seedEvents: paths.events, metrics });
  const service = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics, logger: pino({ level: 'silent' }) });
  let client: RankClient | null = null;
  try {
    await service.start();
    service.setEngine(engine);
    client = new RankClient(`127.0.0.1:${service.grpcPort}`);
    const rowOf = bundle.items.rowOf;
    const toRows = (ids: string[]) => ids.map((id) => {
      const r = rowOf.get(id);
      if (r === undefined) throw new Error(`the service returned an unknown item ${id}`);
      return r;
    });

    const byLight = (res: WireRankResponse) =>
      res.items
        .map((it) => ({ id: it.item_id, s: it.stage_scores.find((x) => x.stage === 'light')?.score ?? -Infinity }))
        .sort((a, b) => b.s - a.s)
        .slice(0, NUM_RESULTS)
        .map((x) => x.id);
    const none = { exploration: 'EXPLORATION_METHOD_NONE' };
    const specs: Spec[] = [
      { name: 'random', description: `${NUM_RESULTS} distinct rows drawn uniformly (seeded), computed in the evaluator`, options: null },
      { name: 'popularity', description: `top ${NUM_RESULTS} by item_bias (the same list for everyone), computed in the evaluator`, options: null },
      {
        name: 'two-tower',
        description: 'API: heavy_budget 0, diversity NONE, exploration NONE, prerank_keep 200, num_results 200, brand_run_limit 1000; items re-sorted by their light (two-tower) stage score, top 50',
        options: { ...none, heavy_budget: 0, diversity: 'DIVERSITY_METHOD_NONE', prerank_keep: 200, brand_run_limit: 1000 },
        numResults: 200,
        pick: byLight,
      },
      { name: 'engine', description: 'API: default knobs, exploration NONE', options: { ...none } },
      { name: 'engine+exploration', description: 'API: default knobs including the default epsilon-greedy exploration', options: {} },
      {
        name: 'no-shortcuts',
        description: 'API: retrieval_k min(5000, items), heavy_budget 1.0, diversity NONE, exploration NONE',
        options: { ...none, retrieval_k: Math.min(5000, n), heavy_budget: 1, diversity: 'DIVERSITY_METHOD_NONE' },
      },
      ...cfg.budgets.map((b) => ({ name: `hap-${b}`, description: `API: default knobs, heavy_budget ${b}, exploration NONE`, options: { ...none, heavy_budget: b } })),
      { name: 'div-none', description: 'API: default knobs, diversity NONE, exploration NONE', options: { ...none, diversity: 'DIVERSITY_METHOD_NONE' } },
      ...(['MMR', 'DPP'] as const).flatMap((m) =>
        cfg.lambdas.map((l) => ({
          name: `${m.toLowerCase()}-${l}`,
          description: `API: default knobs, diversity ${m}, diversity_lambda ${l}, exploration NONE`,
          options: { ...none, diversity: `DIVERSITY_METHOD_${m}`, diversity_lambda: l },
        })),
      ),
    ];

    const sampled = sampleUsers(truth.users.info.map((u) => u.segment), cfg.users, cfg.seed);
    const samples = new Map<string, Sample[]>(specs.map((s) => [s.name, []]));
    const oracleScores: ListScores[] = [];
    const popular = Array.from(topK(bundle.bias, NUM_RESULTS));
    const allRows = Int32Array.from({ length: n }, (_, i) => i);
    const catOf = (r: number) => bundle.items.category[r];
    const brandOf = (r: number) => bundle.items.brand[r];
    const segCount: Record<string, number> = {};
    const surfCount: Record<string, number> = {};

    // Warm-up (not scored): the first calls pay for lazy initialisation.
    for (let i = 0; i < Math.min(3, sampled.length); i++) {
      await client.rank({ user_id: truth.users.info[sampled[i]].id, num_results: NUM_RESULTS, options: { ...none, seed: 1 } });
    }

    for (let s = 0; s < sampled.length; s++) {
      const u = sampled[s];
      const info = truth.users.info[u];
      const surface = EVAL_SURFACES[s % EVAL_SURFACES.length];
      segCount[info.segment] = (segCount[info.segment] ?? 0) + 1;
      surfCount[surface] = (surfCount[surface] ?? 0) + 1;
      const base = bundle.manifest.defaultWeights[surface];
      const weights = Object.fromEntries(OBJECTIVES.map((o) => [o, base[o] ?? 0])) as Record<Objective, number>;
      const utility = trueUtility(trueProbabilities(truth.coefficients, truth.items, truth.users, u, allRows, { surface, device: info.device }), weights);
      const oracle = Array.from(topK(utility, NUM_RESULTS));
      const ideal = oracle.map((r) => utility[r]);
      const score = (rows: number[]): ListScores => {
        const gains = rows.map((r) => utility[r]);
        const top20 = rows.slice(0, 20);
        return {
          ndcg10: ndcgAt(gains, ideal, 10),
          ndcg50: ndcgAt(gains, ideal, 50),
          recall50: recallAt(rows, oracle, 50),
          distinctCategories20: distinctCount(top20.map(catOf)),
          distinctBrands20: distinctCount(top20.map(brandOf)),
          maxBrandRun: maxBrandRun(rows.map(brandOf)),
          length: rows.length,
        };
      };
      oracleScores.push(score(oracle));
      const userSeed = (cfg.seed * 1_000_003 + u) >>> 0 || 1;
      const cache = new Map<string, Promise<{ res: WireRankResponse; ms: number }>>();
      for (const spec of specs) {
        const out = samples.get(spec.name)!;
        if (spec.options === null) {
          let rows: number[];
          if (spec.name === 'random') {
            const rng = new Rng(userSeed);
            const set = new Set<number>();
            while (set.size < Math.min(NUM_RESULTS, n)) set.add(Math.floor(rng.next() * n));
            rows = [...set];
          } else rows = popular;
          out.push({ scores: score(rows), segment: info.segment, prerankMs: null, requestMs: null, strongFraction: null });
          continue;
        }
        const req = {
          user_id: info.id,
          context: { surface: `SURFACE_${surface.toUpperCase()}`, device: `DEVICE_${info.device.toUpperCase()}` },
          num_results: spec.numResults ?? NUM_RESULTS,
          debug: true,
          options: { ...spec.options, seed: userSeed },
        };
        // Identical requests (e.g. hap-0.2 and the engine's defaults) are sent once.
        const key = JSON.stringify(req);
        let p = cache.get(key);
        if (!p) {
          const c = client;
          p = (async () => {
            const t = process.hrtime.bigint();
            const res = await c.rank(req);
            return { res, ms: Number(process.hrtime.bigint() - t) / 1e6 };
          })();
          cache.set(key, p);
        }
        const { res, ms } = await p;
        const ids = spec.pick ? spec.pick(res) : res.items.map((it) => it.item_id);
        const pre = res.stages.find((x) => x.stage === 'prerank');
        const m = pre ? /strong model on (\d+) of (\d+)/.exec(pre.note) : null;
        out.push({
          scores: score(toRows(ids)),
          segment: info.segment,
          prerankMs: pre ? pre.millis : null,
          requestMs: ms,
          strongFraction: m ? Number(m[1]) / Math.max(1, Number(m[2])) : pre ? 0 : null,
        });
      }
      if ((s + 1) % 25 === 0 || s + 1 === sampled.length) log(`${s + 1}/${sampled.length} users`);
    }

    const agg = (xs: Sample[], f: (x: Sample) => number | null) => {
      const v = xs.map(f).filter((x): x is number => x !== null);
      return v.length === 0 ? null : mean(v);
    };
    const configs: Record<string, ConfigResult> = {};
    for (const spec of specs) {
      const xs = samples.get(spec.name)!;
      const bySegment: ConfigResult['bySegment'] = {};
      for (const seg of Object.keys(segCount)) {
        const ys = xs.filter((x) => x.segment === seg);
        bySegment[seg] = { users: ys.length, ndcg10: mean(ys.map((y) => y.scores.ndcg10)), ndcg50: mean(ys.map((y) => y.scores.ndcg50)) };
      }
      configs[spec.name] = {
        name: spec.name,
        description: spec.description,
        options: spec.options,
        requests: xs.length,
        ndcg10: mean(xs.map((x) => x.scores.ndcg10)),
        ndcg50: mean(xs.map((x) => x.scores.ndcg50)),
        recall50: mean(xs.map((x) => x.scores.recall50)),
        distinctCategories20: mean(xs.map((x) => x.scores.distinctCategories20)),
        distinctBrands20: mean(xs.map((x) => x.scores.distinctBrands20)),
        maxBrandRun: mean(xs.map((x) => x.scores.maxBrandRun)),
        length: mean(xs.map((x) => x.scores.length)),
        prerankMs: agg(xs, (x) => x.prerankMs),
        requestMs: agg(xs, (x) => x.requestMs),
        strongFraction: agg(xs, (x) => x.strongFraction),
        bySegment,
      };
    }

    const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
    const eng = configs.engine.ndcg50;
    const vsPop = ratio(eng, configs.popularity.ndcg50);
    const vsRef = ratio(eng, configs['no-shortcuts'].ndcg50);
    const curve = cfg.budgets.map((b) => {
      const c = configs[`hap-${b}`];
      return { budget: b, ndcg10: c.ndcg10, ndcg50: c.ndcg50, prerankMs: c.prerankMs ?? 0, strongFraction: c.strongFraction ?? 0 };
    });
    const at = (b: number) => curve.find((c) => c.budget === b);
    const c20 = at(0.2);
    const c100 = at(1);
    const hapNdcg = c20 && c100 ? ratio(c20.ndcg50, c100.ndcg50) : null;
    const hapTime = c20 && c100 ? ratio(c20.prerankMs, c100.prerankMs) : null;
    const divSpecs = specs.filter((s) => s.name === 'div-none' || /^(mmr|dpp)-/.test(s.name));
    const divPoints = divSpecs.map((s) => {
      const c = configs[s.name];
      const [method, l] = s.name === 'div-none' ? ['none', null] : s.name.split('-');
      return {
        method,
        lambda: l === null ? null : Number(l),
        ndcg10: c.ndcg10,
        distinctCategories20: c.distinctCategories20,
        distinctBrands20: c.distinctBrands20,
        maxBrandRun: c.maxBrandRun,
        pareto: false,
      };
    });
    paretoFront(divPoints.map((p) => ({ a: p.ndcg10, b: p.distinctCategories20 }))).forEach((f, i) => (divPoints[i].pareto = f));

    return {
      command: cfg.command,
      date: new Date().toISOString(),
      commit: gitCommit(),
      world: { root: cfg.root, items: n, users: truth.users.n, dim: bundle.manifest.embeddingDim, seed: cfg.world.seed },
      sample: { users: sampled.length, segments: segCount, surfaces: surfCount, seed: cfg.seed },
      numResults: NUM_RESULTS,
      defaults: DEFAULT_RANK,
      oracleCheck: {
        ndcg10: mean(oracleScores.map((x) => x.ndcg10)),
        ndcg50: mean(oracleScores.map((x) => x.ndcg50)),
        recall50: mean(oracleScores.map((x) => x.recall50)),
        distinctCategories20: mean(oracleScores.map((x) => x.distinctCategories20)),
        distinctBrands20: mean(oracleScores.map((x) => x.distinctBrands20)),
        maxBrandRun: mean(oracleScores.map((x) => x.maxBrandRun)),
      },
      configs,
      headline: {
        engineNdcg50: eng,
        popularityNdcg50: configs.popularity.ndcg50,
        noShortcutsNdcg50: configs['no-shortcuts'].ndcg50,
        twoTowerNdcg50: configs['two-tower'].ndcg50,
        vsPopularity: vsPop,
        vsNoShortcuts: vsRef,
        targets: { vsPopularityAtLeast: 2, vsNoShortcutsAtLeast: 0.95, vsPopularityMet: vsPop >= 2, vsNoShortcutsMet: vsRef >= 0.95 },
      },
      hap: {
        note: 'default knobs (DPP diversity) with exploration NONE; heavy_budget varied; prerank ms = the prerank stage time from the debug stage reports, mean over requests',
        curve,
        ratioNdcg50At20vs100: hapNdcg,
        ratioPrerankMsAt20vs100: hapTime,
        targets: { ndcgRatioAtLeast: 0.99, timeRatioAtMost: 0.35, met: hapNdcg === null || hapTime === null ? null : hapNdcg >= 0.99 && hapTime <= 0.35 },
      },
      diversity: {
        note: 'default knobs with exploration NONE; NDCG@10 vs distinct categories in the top 20; pareto = not dominated on (NDCG@10, distinct categories)',
        points: divPoints,
      },
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    client?.close();
    await service.stop(1000);
    await engine.close();
  }
}
