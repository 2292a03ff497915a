// Turns wire messages (as @grpc/proto-loader decodes them: snake_case fields,
// enums as names, 64-bit integers as numbers) into the engine's validated
// inputs. Every problem is INVALID_ARGUMENT with the field named.
import type { Bundle } from '../bundle/loader';
import type { LiveCatalog, NewItem } from '../catalog/catalog';
import type { DiversityMethod, EnsembleMethod, ExplorationMethod, RankDefaults, RankInput, RankOptions } from '../pipeline/request';
import type { EngineEvent } from '../state';
import { ACTION, ActionCode } from '../models/schema';
import { firstOutOfBounds, MAX_FEATURE_MAGNITUDE, MAX_PRICE } from '../bundle/limits';
import { invalid, ServiceError } from './errors';
import { MAX_INTERESTS } from '../models/interests';
import type { ProfileSet, Served } from './profiles';

export interface Limits {
  maxResults: number;
  maxCandidates: number;
  maxRetrievalK: number;
  maxEvents: number;
  maxActions: number;
  maxItems: number;
  maxIdLength: number;
  /** Timestamps (events, in-session actions, item creation) may be at most this far ahead of the server clock, ms. */
  maxClockSkewMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxResults: 200,
  maxCandidates: 2000,
  maxRetrievalK: 5000,
  maxEvents: 1000,
  maxActions: 200,
  maxItems: 1000,
  maxIdLength: 256,
  maxClockSkewMs: 5 * 60_000,
};




const SURFACES: Record<string, string> = { SURFACE_HOME: 'home', SURFACE_BROWSE: 'browse', SURFACE_SEARCH: 'search', SURFACE_PDP: 'pdp' };
const DEVICES: Record<string, 'mobile' | 'desktop' | 'app'> = { DEVICE_MOBILE: 'mobile', DEVICE_DESKTOP: 'desktop', DEVICE_APP: 'app' };
const ACTIONS: Record<string, ActionCode> = {
  ACTION_TYPE_IMPRESSION: ACTION.impression,
  ACTION_TYPE_CLICK: ACTION.click,
  ACTION_TYPE_WISHLIST: ACTION.wishlist,
  ACTION_TYPE_CART: ACTION.cart,
  ACTION_TYPE_PURCHASE: ACTION.purchase,
};
const DIVERSITY: Record<string, DiversityMethod> = { DIVERSITY_METHOD_NONE: 'none', DIVERSITY_METHOD_MMR: 'mmr', DIVERSITY_METHOD_DPP: 'dpp' };
const ENSEMBLE: Record<string, EnsembleMethod> = { ENSEMBLE_METHOD_WEIGHTED: 'weighted', ENSEMBLE_METHOD_LEARNED: 'learned' };
const EXPLORATION: Record<string, ExplorationMethod> = {
  EXPLORATION_METHOD_NONE: 'none',
  EXPLORATION_METHOD_EPSILON_GREEDY: 'epsilon-greedy',
  EXPLORATION_METHOD_THOMPSON: 'thompson',
};

type Msg = Record<string, unknown>;

/** A value as the client wrote it, for messages ("five", NaN, [1]). */
function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A message field: `{}` when absent. */
function obj(field: string, v: unknown): Msg {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(field, `must be a message (object), got ${show(v)}`);
  return v as Msg;
}

function id(field: string, v: unknown, limits: Limits): string {
  if (typeof v !== 'string' || v.length === 0) throw invalid(field, 'must be a non-empty string');
  if (v.length > limits.maxIdLength) throw invalid(field, `is longer than ${limits.maxIdLength} characters`);
  return v;
}

function enumOf<T>(field: string, v: unknown, table: Record<string, T>, unspecified: T | undefined): T {
  if (v === undefined || v === null || (typeof v === 'string' && v.endsWith('_UNSPECIFIED')) || v === 0) {
    if (unspecified === undefined) throw invalid(field, 'must be specified');
    return unspecified;
  }
  const t = typeof v === 'string' && Object.hasOwn(table, v) ? table[v] : undefined;
  if (t === undefined) throw invalid(field, `unknown value ${JSON.stringify(v)}`);
  return t;
}

/** A finite number in [lo, hi]; `dflt` when the field is absent (proto3 optional). */
function num(field: string, v: unknown, lo: number, hi: number, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, `must be a finite number, got ${show(v)}`);
  if (v < lo || v > hi) throw invalid(field, `must be in [${lo}, ${hi}], got ${v}`);
  return v;
}

/** An unsigned integer where 0 means "default". */
function count(field: string, v: unknown, max: number, dflt: number): number {
  const n = v === undefined || v === null ? 0 : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw invalid(field, `must be a non-negative integer, got ${show(n)}`);
  if (n === 0) return dflt;
  if (n > max) throw invalid(field, `must be at most ${max}, got ${n}`);
  return n;
}

/** A time in ms since the epoch (0 = now), at most maxSkewMs ahead of `now`. */
function time(field: string, v: unknown, now: number, maxSkewMs: number): number {
  const t = typeof v === 'number' ? v : Number(v ?? 0);
  if (!Number.isFinite(t) || t < 0) throw invalid(field, `must be a non-negative time in ms since the epoch, got ${JSON.stringify(v)}`);
  if (t > now + maxSkewMs) {
    throw invalid(field, `${t} is ${Math.round((t - now) / 1000)} s ahead of the server clock (${now}); at most ${maxSkewMs / 1000} s are allowed`);
  }
  return t === 0 ? now : t;
}

function list(field: string, v: unknown, max: number): unknown[] {
  if (v !== undefined && v !== null && !Array.isArray(v)) throw invalid(field, `must be a list, got ${show(v)}`);
  const a: unknown[] = Array.isArray(v) ? v : [];
  if (a.length > max) throw new ServiceError('TOO_MANY', `${field}: at most ${max} entries, got ${a.length}`);
  return a;
}

type RankCtx = { bundle: Bundle; catalog: LiveCatalog; now: number; requestId: string; deadline: number; limits: Limits; defaults: RankDefaults; profiles?: ProfileSet };

/** context: surface (served by the bundle), device, optional category. */
function toContext(r: Msg, bundle: Bundle, catalog: LiveCatalog): { surface: string; device: RankInput['device']; category?: number } {
  const c = obj('context', r.context);
  const surface = enumOf('context.surface', c.surface, SURFACES, 'home');
  if (!(surface in bundle.manifest.defaultWeights)) {
    throw invalid('context.surface', `"${surface}" is not served by this bundle (surfaces: ${Object.keys(bundle.manifest.defaultWeights).join(', ')})`);
  }
  const device = enumOf('context.device', c.device, DEVICES, 'desktop');
  let category: number | undefined;
  if (typeof c.category === 'string' && c.category.length > 0) {
    category = catalog.categories.find(c.category);
    if (category === undefined) throw invalid('context.category', `unknown category "${c.category}"`);
  }
  return { surface, device, category };
}

/** candidate_ids (re-rank mode): known ones as rows, each once; unknown ones reported. */
function toCandidates(r: Msg, catalog: LiveCatalog, limits: Limits): { candidateRows?: Int32Array; unknownCandidates: string[] } {
  const unknownCandidates: string[] = [];
  const cands = list('candidate_ids', r.candidate_ids, limits.maxCandidates);
  if (cands.length === 0) return { unknownCandidates };
  const rows: number[] = [];
  const seen = new Set<number>();
  cands.forEach((x, i) => {
    const row = catalog.rowOf.get(id(`candidate_ids[${i}]`, x, limits));
    if (row === undefined) unknownCandidates.push(x as string);
    else if (!seen.has(row)) {
      seen.add(row);
      rows.push(row);
    }
  });
  return { candidateRows: Int32Array.from(rows), unknownCandidates };
}

/**
 * objective_weights: given weights are the weights (objectives left out
 * weigh 0); the surface's defaults apply only when none is given.
 */
function toWeights(r: Msg, bundle: Bundle, surface: string): Float32Array {
  const objectives = bundle.manifest.objectives;
  const given = Object.entries(obj('objective_weights', r.objective_weights));
  const base = given.length > 0 ? {} : bundle.manifest.defaultWeights[surface];
  const weights = Float32Array.from(objectives, (o) => (base as Record<string, number>)[o] ?? 0);
  for (const [name, v] of given) {
    const o = objectives.indexOf(name);
    if (o < 0) throw invalid(`objective_weights["${name}"]`, `unknown objective (objectives: ${objectives.join(', ')})`);
    weights[o] = num(`objective_weights["${name}"]`, v, 0, 1e6, 0);
  }
  if (weights.every((w) => w === 0)) throw invalid('objective_weights', 'at least one objective needs a positive weight');
  return weights;
}

/** options: each unset one from the profile's defaults `D`. */
function toOptions(r: Msg, D: RankDefaults, numResults: number, catalog: LiveCatalog, limits: Limits, served: Served | undefined): RankOptions {
  const o = obj('options', r.options);
  const retrievalK = count('options.retrieval_k', o.retrieval_k, limits.maxRetrievalK, D.retrievalK);
  // By default keep enough for the page after the policy's filters: at least 2 x num_results.
  const prerankKeep = count('options.prerank_keep', o.prerank_keep, limits.maxRetrievalK, Math.min(Math.max(D.prerankKeep, 2 * numResults), retrievalK));
  const exclude = new Set<number>();
  list('options.exclude_item_ids', o.exclude_item_ids, limits.maxCandidates).forEach((x, i) => {
    const row = catalog.rowOf.get(id(`options.exclude_item_ids[${i}]`, x, limits));
    if (row !== undefined) exclude.add(row);
  });
  return {
    retrievalK,
    prerankKeep,
    heavyBudget: num('options.heavy_budget', o.heavy_budget, 0, 1, D.heavyBudget),
    diversity: enumOf('options.diversity', o.diversity, DIVERSITY, D.diversity),
    diversityLambda: num('options.diversity_lambda', o.diversity_lambda, 0, 1, D.diversityLambda),
    brandRunLimit: count('options.brand_run_limit', o.brand_run_limit, 1000, D.brandRunLimit),
    maxInterests: count('options.max_interests', o.max_interests, MAX_INTERESTS, D.maxInterests),
    calibration: num('options.calibration', o.calibration, 0, 1, D.calibration),
    exploration: enumOf('options.exploration', o.exploration, EXPLORATION, D.exploration),
    epsilon: num('options.exploration_epsilon', o.exploration_epsilon, 0, 1, D.epsilon),
    ensemble: enumOf('options.ensemble', o.ensemble, ENSEMBLE, D.ensemble),
    explorationStart: count('options.exploration_start', o.exploration_start, limits.maxResults, D.explorationStart),
    exclude,
    seed: typeof o.seed === 'number' && Number.isFinite(o.seed) ? o.seed >>> 0 : 0,
    seenTtlMs: served?.profile.seenTtlMs,
    purchaseWindowMs: served?.profile.purchaseWindowMs,
    skipStages: served && served.profile.skipStages.size > 0 ? served.profile.skipStages : undefined,
  };
}

export function toRankInput(raw: unknown, ctx: RankCtx): { input: RankInput; unknownCandidates: string[]; served?: Served } {
  const r = obj('request', raw);
  const { bundle, catalog, limits } = ctx;
  const userId = id('user_id', r.user_id, limits);
  const { surface, device, category } = toContext(r, bundle, catalog);
  // The rank profile: named by the request, else the user's experiment
  // bucket on this surface, else the surface's default. Its values are the
  // defaults of every option the request leaves unset.
  if (r.profile !== undefined && r.profile !== null && typeof r.profile !== 'string') throw invalid('profile', `must be a string, got ${show(r.profile)}`);
  const served = ctx.profiles?.resolve(userId, surface, r.profile as string | undefined);
  const numResults = typeof r.num_results === 'number' && r.num_results !== 0 ? r.num_results : (served?.profile.numResults ?? 0);
  if (!Number.isInteger(numResults) || numResults < 1 || numResults > limits.maxResults) {
    const given = r.num_results === undefined || r.num_results === null ? 'is missing' : `got ${show(r.num_results)}`;
    throw invalid('num_results', `must be between 1 and ${limits.maxResults}, ${given}`);
  }
  const recentActions = list('recent_actions', r.recent_actions, limits.maxActions).map((a, i) => {
    const m = obj(`recent_actions[${i}]`, a);
    const itemId = id(`recent_actions[${i}].item_id`, m.item_id, limits);
    const row = catalog.rowOf.get(itemId);
    if (row === undefined) throw invalid(`recent_actions[${i}].item_id`, `unknown item "${itemId}"`);
    return { row, action: enumOf(`recent_actions[${i}].type`, m.type, ACTIONS, undefined), ts: time(`recent_actions[${i}].timestamp_ms`, m.timestamp_ms, ctx.now, limits.maxClockSkewMs) };
  });
  const { candidateRows, unknownCandidates } = toCandidates(r, catalog, limits);
  const weights = toWeights(r, bundle, surface);
  const options = toOptions(r, served?.profile.defaults ?? ctx.defaults, numResults, catalog, limits, served);
  if (options.ensemble === 'learned' && !ctx.bundle.ensemble) throw invalid('options.ensemble', 'the serving bundle has no learned ensemble (models.ensemble)');
  const input: RankInput = { requestId: ctx.requestId, userId, surface, device, category, recentActions, candidateRows, numResults, weights, options, debug: r.debug === true, deadline: ctx.deadline };
  return { input, unknownCandidates, served };
}

export function toEvents(raw: unknown, catalog: LiveCatalog, now: number, limits: Limits): EngineEvent[] {
  const events = list('events', obj('request', raw).events, limits.maxEvents);
  return events.map((e, i) => {
    const m = obj(`events[${i}]`, e);
    const userId = id(`events[${i}].user_id`, m.user_id, limits);
    const itemId = id(`events[${i}].item_id`, m.item_id, limits);
    const row = catalog.rowOf.get(itemId);
    if (row === undefined) throw invalid(`events[${i}].item_id`, `unknown item "${itemId}"`);
    return { userId, row, action: enumOf(`events[${i}].type`, m.type, ACTIONS, undefined), ts: time(`events[${i}].timestamp_ms`, m.timestamp_ms, now, limits.maxClockSkewMs) };
  });
}

export function toItems(raw: unknown, dim: number, now: number, limits: Limits): NewItem[] {
  const items = list('items', obj('request', raw).items, limits.maxItems);
  const ids = new Set<string>();
  return items.map((x, i) => {
    const m = obj(`items[${i}]`, x);
    const itemId = id(`items[${i}].item_id`, m.item_id, limits);
    if (ids.has(itemId)) throw invalid(`items[${i}].item_id`, `"${itemId}" appears twice in the request`);
    ids.add(itemId);
    const emb = Array.isArray(m.embedding) ? m.embedding : [];
    if (emb.length !== dim) throw invalid(`items[${i}].embedding`, `must have ${dim} values (the bundle's dimension), got ${emb.length}`);
    const embedding = Float32Array.from(emb as number[]);
    const bad = firstOutOfBounds(embedding, dim);
    if (bad) throw invalid(`items[${i}].embedding[${bad.col}]`, `must be a finite number of magnitude at most ${MAX_FEATURE_MAGNITUDE}, got ${String(emb[bad.col])}`);
    const price = num(`items[${i}].price`, m.price, 0, MAX_PRICE, NaN);
    if (!(price > 0)) throw invalid(`items[${i}].price`, 'must be a positive number');
    return {
      id: itemId,
      brand: typeof m.brand === 'string' ? m.brand : '',
      category: typeof m.category === 'string' ? m.category : '',
      price,
      createdAt: time(`items[${i}].created_at_ms`, m.created_at_ms, now, limits.maxClockSkewMs),
      contentHash: typeof m.content_hash === 'string' && m.content_hash.length > 0 ? m.content_hash : `id:${itemId}`,
      embedding,
      bias: num(`items[${i}].bias`, m.bias, -MAX_FEATURE_MAGNITUDE, MAX_FEATURE_MAGNITUDE, 0),
    };
  });
}

export function toIds(raw: unknown, limits: Limits): string[] {
  return list('item_ids', obj('request', raw).item_ids, limits.maxItems).map((x, i) => id(`item_ids[${i}]`, x, limits));
}
