// Configuration: defaults < config file (--config or RANKING_CONFIG, JSON) <
// environment (RANKING_*) < command-line flags.
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';

export interface Config {
  host: string;
  grpcPort: number;
  httpPort: number;
  /** Bundle directory; empty: the demo world (generated on first run). */
  bundle: string;
  /** events.jsonl to seed user state from (the demo world's log by default). */
  events: string;
  /** Where the demo world lives. */
  demoDir: string;
  demoItems: number;
  threads: number;
  maxBatchRows: number;
  maxQueuedRows: number;
  /** Scoring batches of at most this many FLOPs run on the main thread instead of a worker (0: never). */
  inlineMaxFlops: number;
  /** A larger batch runs on the main thread, in up to this many slices of inlineMaxFlops, while no other Rank is in flight (0 or 1: never). */
  inlineMaxSlices: number;
  /** IVF searches scanning at most this many floats run on the main thread (0: never). */
  syncSearchMaxFloats: number;
  /** An IVF search of up to this many times that runs on the main thread in steps while no other Rank is in flight (0 or 1: never). */
  syncSearchMaxSteps: number;
  /** Rank calls admitted at once (running or waiting; a memory bound); the excess gets RESOURCE_EXHAUSTED. */
  maxConcurrentRanks: number;
  /** Of those, how many run the cascade at once, the rest waiting (0: the engine's default). */
  maxActiveRanks: number;
  /**
   * The longest wait for a cascade slot of a Rank call without a deadline (a
   * call with one waits as long as it can still be served by it); also the
   * age of the oldest waiting call past which the newest is served first and
   * new arrivals take the place of the oldest (0: no bound, arrival order).
   */
  maxQueueWaitMs: number;
  catalogHeadroom: number;
  /** Most recorded events kept in memory for replay into a reloaded bundle (and kept by the event log). */
  maxJournal: number;
  /**
   * Directory of the durable event log; empty: recorded events live in
   * memory only and are lost on restart. With it, RecordEvents acknowledges
   * only events written to the log, and startup applies what the log holds.
   */
  eventLog: string;
  /** 'data': fdatasync each group commit before acknowledging (survives power loss); 'none': write() only (survives a process crash). */
  eventLogSync: 'data' | 'none';
  clock: 'wall' | 'bundle';
  logLevel: string;
  /** Bearer token for admin calls (UpsertItems, DeleteItems, ReloadBundle); empty: admin calls are refused. */
  adminToken: string;
  /** ReloadBundle paths resolve in and must stay inside this directory (default: the bundle's parent). */
  bundleRoot: string;
  /** PEM files for TLS on the gRPC port; with tlsCa, clients must present a certificate signed by it (mutual TLS). */
  tlsCert: string;
  tlsKey: string;
  tlsCa: string;
  /**
   * Client certificate identities (subject CN or SAN DNS name, exact match)
   * allowed to make admin calls without a token; needs mutual TLS (tlsCa).
   * Flags and environment: comma-separated; config file: an array or a
   * comma-separated string.
   */
  adminClientNames: string[];
  /** Print a sample ranking through the gRPC API once serving. */
  sample: boolean;
}

export const DEFAULTS: Config = {
  host: '0.0.0.0',
  grpcPort: 50051,
  httpPort: 8080,
  bundle: '',
  events: '',
  demoDir: '.data/demo-world',
  demoItems: 100_000,
  threads: Math.max(1, Math.min(4, os.availableParallelism())),
  maxBatchRows: 4096,
  maxQueuedRows: 200_000,
  // The engine's defaults (ENGINE_DEFAULTS; a test keeps them equal).
  inlineMaxFlops: 40_000_000,
  inlineMaxSlices: 4,
  syncSearchMaxFloats: 1_000_000,
  syncSearchMaxSteps: 4,
  maxConcurrentRanks: 4096,
  maxActiveRanks: 0,
  maxQueueWaitMs: 250,
  catalogHeadroom: 100_000,
  maxJournal: 2_000_000,
  eventLog: '',
  eventLogSync: 'data',
  clock: 'wall',
  logLevel: 'info',
  adminToken: '',
  bundleRoot: '',
  tlsCert: '',
  tlsKey: '',
  tlsCa: '',
  adminClientNames: [],
  sample: false,
};

const KEYS = Object.keys(DEFAULTS) as (keyof Config)[];
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (k: string) => `RANKING_${kebab(k).replace(/-/g, '_').toUpperCase()}`;

function coerce(key: keyof Config, v: unknown, source: string): Config[keyof Config] {
  const d = DEFAULTS[key];
  if (typeof d === 'number') {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${source}: ${key} must be a non-negative integer, got ${String(v)}`);
    return n;
  }
  if (typeof d === 'boolean') return v === true || v === 'true' || v === '1';
  if (Array.isArray(d)) return nameList(key, v, source);
  if (key === 'clock' && v !== 'wall' && v !== 'bundle') throw new Error(`${source}: clock must be "wall" or "bundle"`);
  if (key === 'eventLogSync' && v !== 'data' && v !== 'none') throw new Error(`${source}: eventLogSync must be "data" or "none"`);
  return String(v);
}

/** A list setting: an array of strings, or one comma-separated string; blanks dropped. */
function nameList(key: keyof Config, v: unknown, source: string): string[] {
  const parts = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : null;
  if (!parts || parts.some((p) => typeof p !== 'string')) throw new Error(`${source}: ${key} must be a list of names (an array of strings or "a,b,c")`);
  return (parts as string[]).map((p) => p.trim()).filter((p) => p.length > 0);
}

export function loadConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Config {
  const options = Object.fromEntries(
    KEYS.map((k) => [kebab(k), { type: typeof DEFAULTS[k] === 'boolean' ? ('boolean' as const) : ('string' as const) }]),
  );
  const { values } = parseArgs({ args: argv, options: { ...options, config: { type: 'string' } }, strict: true });
  const cfg: Config = { ...DEFAULTS };
  const set = (k: keyof Config, v: unknown, source: string) => ((cfg as unknown as Record<string, unknown>)[k] = coerce(k, v, source));
  const file = (values.config as string | undefined) ?? env.RANKING_CONFIG;
  if (file) {
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(json)) {
      if (!KEYS.includes(k as keyof Config)) throw new Error(`${file}: unknown setting "${k}"`);
      set(k as keyof Config, v, file);
    }
  }
  for (const k of KEYS) if (env[envName(k)] !== undefined) set(k, env[envName(k)], envName(k));
  for (const k of KEYS) {
    const v = (values as Record<string, unknown>)[kebab(k)];
    if (v !== undefined) set(k, v, `--${kebab(k)}`);
  }
  if (cfg.adminClientNames.length > 0 && !(cfg.tlsCert && cfg.tlsKey && cfg.tlsCa)) {
    throw new Error('adminClientNames needs mutual TLS: set tlsCert, tlsKey and tlsCa (client certificates are only checked against tlsCa)');
  }
  return cfg;
}
