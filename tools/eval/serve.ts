// The evaluator's session: the world (bundle and ground truth), the default
// engine and its variants (all sharing the default engine's user state), a
// RankingService on 127.0.0.1 (ephemeral port, in this process) serving one
// engine at a time, and a grpc-js client of it, as a user would call it.
import pino from 'pino';

import { RankingService } from '../../src/api/service';
import { Bundle, loadBundle } from '../../src/bundle/loader';
import { Device as WireDevice, RankingClient, RankRequest, StageOptions, Surface as WireSurface } from '../../src/client';
import { createMetrics } from '../../src/metrics/metrics';
import { Device, Surface } from '../../src/models/schema';
import { UserTower } from '../../src/models/user-tower';
import { Engine } from '../../src/pipeline/engine';
import { ENGINE_DEFAULTS, EngineOptions } from '../../src/pipeline/options';
import { ensureWorld } from '../world/cache';
import { loadTruth } from '../world/truth-files';
import { searchEngineKey, searchGrid } from './ann';
import { addPrecisionEngines } from './precision-runs';
import type { EvalSession, PrecisionEngines, Served, Spec } from './session';
import { EvalConfig, NUM_RESULTS, SearchSetting } from './types';

/** Deadline of the evaluator's calls to its in-process service. */
const CALL_DEADLINE_MS = 60_000;

/** The proto's names of the world's surfaces and devices. */
export const WIRE_SURFACE: Record<Surface, WireSurface> = { home: 'SURFACE_HOME', browse: 'SURFACE_BROWSE', search: 'SURFACE_SEARCH', pdp: 'SURFACE_PDP' };
export const WIRE_DEVICE: Record<Device, WireDevice> = { mobile: 'DEVICE_MOBILE', desktop: 'DEVICE_DESKTOP', app: 'DEVICE_APP' };

/**
 * Builds the session, runs `fn` on it, then closes the client, the service,
 * every engine and the user tower (also when building or `fn` fails).
 */
export async function withSession<T>(cfg: EvalConfig, fn: (s: EvalSession) => Promise<T>): Promise<T> {
  const log = cfg.log ?? (() => undefined);
  const paths = await ensureWorld(cfg.root, cfg.world, log);
  const bundle = await loadBundle(cfg.bundle ?? paths.bundle, { progress: false });
  const truth = await loadTruth(paths, bundle);
  const metrics = createMetrics({ defaultMetrics: false });
  const base: EngineOptions = { ...ENGINE_DEFAULTS, threads: cfg.threads, clock: 'bundle' };
  const engine = await Engine.create(bundle, { ...base, seedEvents: paths.events, metrics });
  const engines = new Map<string, Engine>([['default', engine]]);
  const grid = cfg.search ?? searchGrid(bundle.manifest.index);
  const service = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics, logger: pino({ level: 'silent' }) });
  const tower = await UserTower.create(bundle.userTower, bundle.manifest.embeddingDim);
  let client: RankingClient | null = null;
  try {
    const precision = await addVariants(bundle, base, engines, grid, cfg);
    log(`${engines.size} engines: ${[...engines.keys()].join(', ')}`);
    await service.start();
    service.setEngine(engine);
    let serving = 'default';
    const use = (key: string) => {
      if (key !== serving) {
        service.setEngine(engines.get(key)!);
        serving = key;
      }
    };
    client = new RankingClient(`127.0.0.1:${service.grpcPort}`, { deadlineMs: CALL_DEADLINE_MS });
    return await fn({ cfg, log, bundle, truth, engine, engines, base, grid, precision, tower, client, use });
  } finally {
    client?.close();
    await service.stop(1000);
    for (const e of engines.values()) await e.close();
    await tower.close();
  }
}

/**
 * Adds the variant engines to `engines`: one per index search setting of the
 * grid other than the bundle's, one with hapRouting 'top', and the precision
 * engines. They share the default engine's user state (the store the seed
 * events went into); requests to them use exploration NONE, so the item click
 * statistics (Thompson sampling only) do not matter.
 */
async function addVariants(bundle: Bundle, base: EngineOptions, engines: Map<string, Engine>, grid: SearchSetting[], cfg: EvalConfig): Promise<PrecisionEngines> {
  const store = engines.get('default')!.store;
  const variant = (o: Partial<EngineOptions>) => Engine.create(bundle, { ...base, store, ...o });
  for (const s of grid) {
    const key = searchEngineKey(bundle.manifest.index, s);
    if (!engines.has(key)) engines.set(key, await variant({ search: s }));
  }
  engines.set('top-routing', await variant({ hapRouting: 'top' }));
  return addPrecisionEngines(engines, variant, cfg.precisions);
}

/** The rows of the catalog for the item ids a response returned. */
export function toRows(s: EvalSession, ids: string[]): number[] {
  return ids.map((id) => {
    const r = s.bundle.items.rowOf.get(id);
    if (r === undefined) throw new Error(`the service returned an unknown item ${id}`);
    return r;
  });
}

/** Warm-up (not scored): the first calls of each engine pay for lazy initialisation. */
export async function warmUp(s: EvalSession, users: number[], options: StageOptions): Promise<void> {
  for (const key of s.engines.keys()) {
    s.use(key);
    for (let i = 0; i < Math.min(2, users.length); i++) {
      await s.client.rank({ user_id: s.truth.users.info[users[i]].id, num_results: NUM_RESULTS, options: { ...options, seed: 1 } });
    }
  }
}

/**
 * Requests one API configuration for a user (id and context) through the
 * client, from the spec's engine; identical requests to the same engine
 * (e.g. hap-0.2 and the engine's defaults) are sent once per `cache` (one
 * cache a user).
 */
export function serveSpec(s: EvalSession, cache: Map<string, Promise<Served>>, spec: Spec, user: Pick<RankRequest, 'user_id' | 'context'>, seed: number): Promise<Served> {
  const key = spec.engine ?? 'default';
  const req = { ...user, num_results: spec.numResults ?? NUM_RESULTS, debug: true, options: { ...spec.options, seed } };
  const ck = `${key}|${JSON.stringify(req)}`;
  let p = cache.get(ck);
  if (!p) {
    s.use(key);
    p = (async () => {
      const t = process.hrtime.bigint();
      const res = await s.client.rank(req);
      return { res, ms: Number(process.hrtime.bigint() - t) / 1e6 };
    })();
    cache.set(ck, p);
  }
  return p;
}
