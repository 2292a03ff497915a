// Rank profiles: named sets of the cascade's knobs (sizes, diversity,
// exploration, business rules, which stages run), declared in a JSON file
// (--profiles FILE), one default per surface, and A/B experiments that split
// a surface's users between profiles by a hash of the user id. A request may
// name a profile (RankRequest.profile) and still override single options;
// every response says which profile served it, and under an experiment which
// bucket. The file format is in docs/profiles.md.
import { promises as fs } from 'node:fs';

import type { DiversityMethod, EnsembleMethod, ExplorationMethod, RankDefaults } from '../pipeline/request';
import { invalid } from './errors';
import { MAX_INTERESTS } from '../models/interests';

/** A stage of the cascade, and whether a profile may leave it out. */
export interface StageInfo {
  id: string;
  optional: boolean;
}

export interface Profile {
  name: string;
  /** The option defaults a request of this profile starts from. */
  defaults: RankDefaults;
  /** num_results when the request leaves it 0. */
  numResults?: number;
  seenTtlMs?: number;
  purchaseWindowMs?: number;
  /** The stages it runs, in order. */
  stages: readonly string[];
  /** The cascade's stages it leaves out. */
  skipStages: ReadonlySet<string>;
}

export interface Bucket {
  name: string;
  profile: string;
  share: number;
}

export interface Experiment {
  name: string;
  /** Surfaces it runs on (null: all). */
  surfaces: readonly string[] | null;
  buckets: readonly Bucket[];
}

/** What serves one request. */
export interface Served {
  profile: Profile;
  experiment?: string;
  bucket?: string;
}

/** The profile every server has: the built-in defaults, all stages. */
export const BUILTIN_PROFILE = 'default';

const DIVERSITY: readonly DiversityMethod[] = ['none', 'mmr', 'dpp'];
const EXPLORATION: readonly ExplorationMethod[] = ['none', 'epsilon-greedy', 'thompson'];
const ENSEMBLE: readonly EnsembleMethod[] = ['weighted', 'learned'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

type Json = Record<string, unknown>;

/** A configuration error naming the file and the field. */
export class ProfilesError extends Error {
  constructor(source: string, field: string, problem: string) {
    super(`${source}: ${field} ${problem}`);
    this.name = 'ProfilesError';
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units: stable across processes and versions. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's 32-bit finalizer: every input bit moves every output bit (FNV-1a alone barely moves the top bits for ids that differ in their last characters). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Where a user falls in an experiment, in [0, 1): the same for the same experiment and user, everywhere. */
export function bucketPoint(experiment: string, userId: string): number {
  return fmix32(fnv1a(`${experiment}\u0000${userId}`)) / 2 ** 32;
}

export class ProfileSet {
  private constructor(
    readonly profiles: ReadonlyMap<string, Profile>,
    private readonly surfaces: ReadonlyMap<string, string>,
    readonly experiments: readonly Experiment[],
  ) {}

  /** Only the built-in profile: the server without a profiles file. */
  static builtin(base: RankDefaults, stages: readonly StageInfo[]): ProfileSet {
    return ProfileSet.parse({}, { base, stages, source: 'built-in profiles' });
  }

  static async load(file: string, opts: { base: RankDefaults; stages: readonly StageInfo[] }): Promise<ProfileSet> {
    let json: unknown;
    try {
      json = JSON.parse(await fs.readFile(file, 'utf8'));
    } catch (err) {
      throw new ProfilesError(file, 'the file', `cannot be read as JSON (${(err as Error).message})`);
    }
    return ProfileSet.parse(json, { ...opts, source: file });
  }

  /** Checks and resolves a profiles document (see docs/profiles.md); every problem names its field. */
  static parse(json: unknown, opts: { base: RankDefaults; stages: readonly StageInfo[]; source: string }): ProfileSet {
    const fail = (field: string, problem: string): never => {
      throw new ProfilesError(opts.source, field, problem);
    };
    const doc = asObject(json, 'the document', fail);
    onlyKeys(doc, ['profiles', 'surfaces', 'experiments'], '', fail);
    const profiles = new Map<string, Profile>();
    const all = opts.stages.map((s) => s.id);
    profiles.set(BUILTIN_PROFILE, { name: BUILTIN_PROFILE, defaults: opts.base, stages: all, skipStages: new Set() });
    for (const [name, raw] of Object.entries(asObject(doc.profiles ?? {}, 'profiles', fail))) {
      checkName(name, `profiles["${name}"]`, fail);
      profiles.set(name, parseProfile(name, asObject(raw, `profiles.${name}`, fail), opts.base, opts.stages, fail));
    }
    const surfaces = new Map<string, string>();
    for (const [surface, p] of Object.entries(asObject(doc.surfaces ?? {}, 'surfaces', fail))) {
      if (typeof p !== 'string' || !profiles.has(p)) fail(`surfaces.${surface}`, `must name a profile (profiles: ${[...profiles.keys()].join(', ')}), got ${JSON.stringify(p)}`);
      surfaces.set(surface, p as string);
    }
    const experiments: Experiment[] = [];
    const list = doc.experiments ?? [];
    if (!Array.isArray(list)) fail('experiments', 'must be a list');
    (list as unknown[]).forEach((raw, i) => experiments.push(parseExperiment(asObject(raw, `experiments[${i}]`, fail), i, profiles, fail)));
    // One experiment per surface: a user is in at most one bucket per request.
    experiments.forEach((e, i) => {
      for (const f of experiments.slice(0, i)) {
        if (f.name === e.name) fail(`experiments[${i}].name`, `repeats "${e.name}"`);
        const shared = e.surfaces === null ? (f.surfaces ?? ['*']) : f.surfaces === null ? e.surfaces : e.surfaces.filter((s) => f.surfaces!.includes(s));
        if (shared.length > 0) fail(`experiments[${i}]`, `overlaps experiment "${f.name}" on ${shared.join(', ')}: one experiment per surface`);
      }
    });
    return new ProfileSet(profiles, surfaces, experiments);
  }

  /**
   * The profile for a request: the one it names; else, under an experiment
   * on its surface, the user's bucket's; else the surface's default ("*"
   * for surfaces not listed); else the built-in one. An unknown name is
   * INVALID_ARGUMENT naming the field.
   */
  resolve(userId: string, surface: string, requested: string | undefined): Served {
    if (requested !== undefined && requested !== '') {
      const p = this.profiles.get(requested);
      if (!p) throw invalid('profile', `unknown profile "${requested}" (profiles: ${[...this.profiles.keys()].join(', ')})`);
      return { profile: p };
    }
    const e = this.experiments.find((x) => x.surfaces === null || x.surfaces.includes(surface));
    if (e) {
      const at = bucketPoint(e.name, userId);
      let acc = 0;
      let b = e.buckets[e.buckets.length - 1];
      for (const x of e.buckets) {
        acc += x.share;
        if (at < acc) {
          b = x;
          break;
        }
      }
      return { profile: this.profiles.get(b.profile)!, experiment: e.name, bucket: b.name };
    }
    const name = this.surfaces.get(surface) ?? this.surfaces.get('*') ?? BUILTIN_PROFILE;
    return { profile: this.profiles.get(name)! };
  }
}

type Fail = (field: string, problem: string) => never;

function asObject(v: unknown, field: string, fail: Fail): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, 'must be an object');
  return v as Json;
}

function checkName(v: unknown, field: string, fail: Fail): void {
  if (typeof v !== 'string' || !NAME.test(v)) fail(field, 'must be a name of letters, digits, "_", "." or "-" (at most 64)');
}

function onlyKeys(o: Json, keys: readonly string[], prefix: string, fail: Fail): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${prefix}${k}`, `is not a known field (fields: ${keys.join(', ')})`);
}

const PROFILE_FIELDS = [
  'retrievalK',
  'prerankKeep',
  'heavyBudget',
  'diversity',
  'diversityLambda',
  'brandRunLimit',
  'maxInterests',
  'calibration',
  'exploration',
  'epsilon',
  'ensemble',
  'explorationStart',
  'numResults',
  'seenTtlMs',
  'purchaseWindowMs',
  'stages',
] as const;

function parseProfile(name: string, o: Json, base: RankDefaults, all: readonly StageInfo[], fail: Fail): Profile {
  const at = (k: string) => `profiles.${name}.${k}`;
  onlyKeys(o, PROFILE_FIELDS, `profiles.${name}.`, fail);
  const int = (k: string, lo: number, hi: number): number | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) fail(at(k), `must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
    return v as number;
  };
  const real = (k: string, lo: number, hi: number): number | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) fail(at(k), `must be a number in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
    return v as number;
  };
  const oneOf = <T extends string>(k: string, values: readonly T[]): T | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) fail(at(k), `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  };
  const defaults: RankDefaults = {
    retrievalK: int('retrievalK', 1, 100_000) ?? base.retrievalK,
    prerankKeep: int('prerankKeep', 1, 100_000) ?? base.prerankKeep,
    heavyBudget: real('heavyBudget', 0, 1) ?? base.heavyBudget,
    diversity: oneOf('diversity', DIVERSITY) ?? base.diversity,
    diversityLambda: real('diversityLambda', 0, 1) ?? base.diversityLambda,
    brandRunLimit: int('brandRunLimit', 1, 1000) ?? base.brandRunLimit,
    maxInterests: int('maxInterests', 1, MAX_INTERESTS) ?? base.maxInterests,
    calibration: real('calibration', 0, 1) ?? base.calibration,
    exploration: oneOf('exploration', EXPLORATION) ?? base.exploration,
    epsilon: real('epsilon', 0, 1) ?? base.epsilon,
    ensemble: oneOf('ensemble', ENSEMBLE) ?? base.ensemble,
    explorationStart: int('explorationStart', 1, 1000) ?? base.explorationStart,
  };
  const ids = all.map((s) => s.id);
  let stages: string[] = ids;
  if (o.stages !== undefined) {
    if (!Array.isArray(o.stages) || o.stages.some((s) => typeof s !== 'string')) fail(at('stages'), 'must be a list of stage names');
    stages = o.stages as string[];
    for (const s of stages) if (!ids.includes(s)) fail(at('stages'), `names an unknown stage "${s}" (stages: ${ids.join(', ')})`);
    const order = stages.map((s) => ids.indexOf(s));
    if (order.some((x, i) => i > 0 && x <= order[i - 1])) fail(at('stages'), `must keep the cascade's order without repeats (${ids.join(', ')})`);
    for (const s of all) if (!s.optional && !stages.includes(s.id)) fail(at('stages'), `must include "${s.id}" (only ${all.filter((x) => x.optional).map((x) => x.id).join(', ') || 'no stage'} may be left out)`);
  }
  return {
    name,
    defaults,
    numResults: int('numResults', 1, 1000),
    seenTtlMs: real('seenTtlMs', 0, Number.MAX_SAFE_INTEGER),
    purchaseWindowMs: real('purchaseWindowMs', 0, Number.MAX_SAFE_INTEGER),
    stages,
    skipStages: new Set(ids.filter((s) => !stages.includes(s))),
  };
}

function parseExperiment(o: Json, i: number, profiles: ReadonlyMap<string, Profile>, fail: Fail): Experiment {
  const at = (k: string) => `experiments[${i}].${k}`;
  onlyKeys(o, ['name', 'surfaces', 'buckets'], `experiments[${i}].`, fail);
  checkName(o.name, at('name'), fail);
  let surfaces: string[] | null = null;
  if (o.surfaces !== undefined) {
    if (!Array.isArray(o.surfaces) || o.surfaces.length === 0 || o.surfaces.some((s) => typeof s !== 'string')) fail(at('surfaces'), 'must be a non-empty list of surface names');
    surfaces = o.surfaces as string[];
  }
  if (!Array.isArray(o.buckets) || o.buckets.length < 2) fail(at('buckets'), 'must list at least two buckets');
  const buckets = (o.buckets as unknown[]).map((raw, j): Bucket => {
    const b = asObject(raw, `${at('buckets')}[${j}]`, fail);
    const bt = (k: string) => `${at('buckets')}[${j}].${k}`;
    onlyKeys(b, ['name', 'profile', 'share'], `${at('buckets')}[${j}].`, fail);
    checkName(b.name, bt('name'), fail);
    if (typeof b.profile !== 'string' || !profiles.has(b.profile)) fail(bt('profile'), `must name a profile (profiles: ${[...profiles.keys()].join(', ')}), got ${JSON.stringify(b.profile)}`);
    if (typeof b.share !== 'number' || !(b.share > 0 && b.share <= 1)) fail(bt('share'), `must be a number in (0, 1], got ${JSON.stringify(b.share)}`);
    return { name: b.name as string, profile: b.profile as string, share: b.share as number };
  });
  const total = buckets.reduce((a, b) => a + b.share, 0);
  if (Math.abs(total - 1) > 1e-9) fail(at('buckets'), `shares must add up to 1, got ${total}`);
  if (new Set(buckets.map((b) => b.name)).size !== buckets.length) fail(at('buckets'), 'has two buckets with the same name');
  return { name: o.name as string, surfaces, buckets };
}
