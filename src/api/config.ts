// Configuration: defaults < config file (--config or RANKING_CONFIG, JSON) <
// environment (RANKING_*) < command-line flags.
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';

import { USER_EMBEDDING_CACHE_DEFAULTS } from '../models/user-embedding-cache';
import { isPrecisionSetting, PRECISION_SETTINGS } from '../native/dcn-precision';
import { DEFAULT_MAX_CONCURRENT_RANKS } from '../pipeline/admission';
import { ENGINE_DEFAULTS } from '../pipeline/options';
import { DEFAULT_MAX_JOURNAL } from './event-journal';
import { DEFAULT_LIMITS } from './validate';

export interface Config {
  host: string;
  grpcPort: number;
  httpPort: number;
  /** Bundle directory (required unless an entry point supplies a default: tools/serve-demo.ts). */
  bundle: string;
  /** events.jsonl to seed user state from. */
  events: string;
  /** Where user state lives: '' in this process; redis://[user:password@]host:port[/db] or rediss:// (TLS) to share it between replicas. */
  userStore: string;
  /** userStore is a node of a Redis Cluster. */
  userStoreCluster: boolean;
  /** redis:// or rediss:// URL: catalog changes go through a Redis Stream that every replica applies in order (instead of catalogLog). */
  catalogStream: string;
  /** catalogStream is a node of a Redis Cluster. */
  catalogStreamCluster: boolean;
  threads: number;
  maxQueuedRows: number;
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
  /** Event, in-session action and item creation times may be at most this far ahead of the server clock (ms); later ones get INVALID_ARGUMENT. */
  maxClockSkewMs: number;
  /** Users whose user-tower output is kept for reuse while their actions and the catalog are unchanged (0: no cache). */
  userEmbeddingCache: number;
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
  /**
   * Directory of the durable catalog log; empty: catalog changes (UpsertItems,
   * DeleteItems) live in memory only (a reload re-applies them, a restart
   * loses them). With it, those calls acknowledge only changes written to the
   * log, and startup re-applies what the log holds.
   */
  catalogLog: string;
  /** Directory of the served-impression log (state/impression-log.ts); empty: none. */
  impressionLog: string;
  /** Share of Ranks written to the impression log, in [0, 1]. */
  impressionLogSample: number;
  /** JSON file of rank profiles and A/B experiments (docs/profiles.md); empty: the built-in profile only. */
  profiles: string;
  /** As eventLogSync, for the catalog log. */
  catalogLogSync: 'data' | 'none';
  clock: 'wall' | 'bundle';
  logLevel: string;
  /** 'json': pino's JSON lines; 'pretty': one readable line per entry (pino-pretty); 'auto': pretty when stdout is a terminal. */
  logFormat: 'auto' | 'json' | 'pretty';
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
  /** Arithmetic of the DCN-v2 rankers: fp32, bf16, int8 or auto (by CPU); empty: the bundle's setting (default auto). */
  rankerPrecision: string;
}

export const DEFAULTS: Config = {
  host: '0.0.0.0',
  grpcPort: 50051,
  httpPort: 8080,
  bundle: '',
  events: '',
  userStore: '',
  userStoreCluster: false,
  catalogStream: '',
  catalogStreamCluster: false,
  threads: Math.max(1, Math.min(4, os.availableParallelism())),
  maxQueuedRows: ENGINE_DEFAULTS.maxQueuedRows,
  maxConcurrentRanks: DEFAULT_MAX_CONCURRENT_RANKS,
  maxActiveRanks: 0,
  maxQueueWaitMs: 250,
  catalogHeadroom: 100_000,
  maxClockSkewMs: DEFAULT_LIMITS.maxClockSkewMs,
  userEmbeddingCache: USER_EMBEDDING_CACHE_DEFAULTS.maxEntries,
  maxJournal: DEFAULT_MAX_JOURNAL,
  eventLog: '',
  eventLogSync: 'data',
  catalogLog: '',
  impressionLog: '',
  impressionLogSample: 1,
  profiles: '',
  catalogLogSync: 'data',
  clock: 'wall',
  logLevel: 'info',
  logFormat: 'auto',
  adminToken: '',
  bundleRoot: '',
  tlsCert: '',
  tlsKey: '',
  tlsCa: '',
  adminClientNames: [],
  sample: false,
  rankerPrecision: '',
};

const KEYS = Object.keys(DEFAULTS) as (keyof Config)[];
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (k: string) => `RANKING_${kebab(k).replace(/-/g, '_').toUpperCase()}`;

function coerce(key: keyof Config, v: unknown, source: string): Config[keyof Config] {
  const d = DEFAULTS[key];
  if (key === 'impressionLogSample') {
    const x = Number(v);
    if (!(x >= 0 && x <= 1)) throw new Error(`${source}: impressionLogSample must be a number in [0, 1], got ${String(v)}`);
    return x;
  }
  if (typeof d === 'number') {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${source}: ${key} must be a non-negative integer, got ${String(v)}`);
    return n;
  }
  if (typeof d === 'boolean') return v === true || v === 'true' || v === '1';
  if (Array.isArray(d)) return nameList(key, v, source);
  if (key === 'clock' && v !== 'wall' && v !== 'bundle') throw new Error(`${source}: clock must be "wall" or "bundle"`);
  if ((key === 'eventLogSync' || key === 'catalogLogSync') && v !== 'data' && v !== 'none') throw new Error(`${source}: ${key} must be "data" or "none"`);
  if (key === 'logFormat' && v !== 'auto' && v !== 'json' && v !== 'pretty') throw new Error(`${source}: logFormat must be "auto", "json" or "pretty"`);
  if ((key === 'userStore' || key === 'catalogStream') && v !== '' && !/^rediss?:\/\/[^\s]+$/.test(String(v))) throw new Error(`${source}: ${key} must be a redis:// or rediss:// URL, got ${String(v)}`);
  if (key === 'rankerPrecision' && v !== '' && !isPrecisionSetting(v)) throw new Error(`${source}: rankerPrecision must be one of ${PRECISION_SETTINGS.join(', ')}, got ${String(v)}`);
  return String(v);
}

/** A list setting: an array of strings, or one comma-separated string; blanks dropped. */
function nameList(key: keyof Config, v: unknown, source: string): string[] {
  const parts = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : null;
  if (!parts || parts.some((p) => typeof p !== 'string')) throw new Error(`${source}: ${key} must be a list of names (an array of strings or "a,b,c")`);
  return (parts as string[]).map((p) => p.trim()).filter((p) => p.length > 0);
}

/** What each setting does, for --help (a setting without a line here is listed with its default only). */
const HELP: Partial<Record<keyof Config, string>> = {
  host: 'address to bind',
  grpcPort: 'gRPC port',
  httpPort: 'HTTP port (/metrics, /healthz, POST /v1/rank)',
  bundle: 'bundle directory (serve-demo.js: the demo world, generated on the first run)',
  events: 'events.jsonl to seed user state from (serve-demo.js: the demo world\'s)',
  userStore: 'redis://host:port[/db] or rediss://: user state in Redis, shared by replicas (default: in this process)',
  userStoreCluster: 'the user store is a Redis Cluster (--user-store names any node)',
  catalogStream: 'redis://host:port[/db] or rediss://: catalog changes through a Redis Stream every replica applies in order (instead of --catalog-log)',
  catalogStreamCluster: 'the catalog stream is on a Redis Cluster (--catalog-stream names any node)',
  threads: 'scoring worker threads',
  maxQueuedRows: 'rows waiting for a scoring worker before calls are refused',
  maxConcurrentRanks: 'Rank calls served at once; the excess gets RESOURCE_EXHAUSTED',
  maxActiveRanks: 'of those, calls running the cascade at once (0: 2 x cores)',
  maxQueueWaitMs: 'longest wait for a cascade slot before RESOURCE_EXHAUSTED (0: no bound)',
  catalogHeadroom: 'catalog rows kept free for UpsertItems',
  maxJournal: 'recorded events kept for replay into a reloaded bundle (and by the event log)',
  eventLog: 'directory of the durable event log (default: events in memory only)',
  eventLogSync: 'data: fdatasync before acknowledging; none: write only',
  clock: 'wall: real time; bundle: the bundle\'s reference time',
  logLevel: 'pino log level (fatal, error, warn, info, debug, trace)',
  logFormat: 'json | pretty | auto (pretty when stdout is a terminal)',
  adminToken: 'bearer token for admin calls (default: admin calls refused)',
  bundleRoot: 'ReloadBundle paths must resolve inside this directory (default: the bundle\'s parent)',
  tlsCert: 'PEM certificate for TLS on the gRPC port',
  tlsKey: 'PEM private key for TLS',
  tlsCa: 'PEM CA: clients must present a certificate it signed (mutual TLS)',
  adminClientNames: 'comma-separated client certificate names allowed admin calls (needs mutual TLS)',
  sample: 'print a sample ranking through the gRPC API once serving',
  impressionLog: 'directory of the served-impression log: per logged Rank, what was served with its propensities (default: none)',
  impressionLogSample: 'share of Ranks written to the impression log, 0 to 1',
};

/** The --help text: every setting as a flag, with its environment variable and default. */
export function usage(): string {
  const rows = KEYS.map((k) => {
    const d = DEFAULTS[k];
    const flag = typeof d === 'boolean' ? `--${kebab(k)}` : `--${kebab(k)} ${Array.isArray(d) ? 'A,B' : typeof d === 'number' ? 'N' : 'VALUE'}`;
    const dflt = typeof d === 'boolean' || (Array.isArray(d) && d.length === 0) || d === '' ? '' : ` (default ${Array.isArray(d) ? d.join(',') : String(d)})`;
    return `  ${flag.padEnd(34)} ${HELP[k] ?? ''}${dflt}`;
  });
  return [
    'usage: node dist/src/main.js --bundle DIR [options]',
    '       node dist/tools/serve-demo.js [--demo-dir DIR] [--demo-items N] [options]   (npm start: the demo world, with --sample)',
    '',
    'Serves the ranking engine over gRPC and HTTP. Every option can also be set',
    'in a JSON config file (--config FILE or RANKING_CONFIG; keys in camelCase) or',
    'in the environment (RANKING_ and the option in upper snake case, e.g. RANKING_GRPC_PORT).',
    'Flags win over the environment, which wins over the file.',
    '',
    'options:',
    ...rows,
    `  ${'--config FILE'.padEnd(34)} JSON config file`,
    `  ${'--help, -h'.padEnd(34)} this text`,
  ].join('\n');
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
  if (cfg.catalogStream && cfg.catalogLog) throw new Error('catalogStream and catalogLog are exclusive: with a catalog stream, Redis keeps the changes');
  if (cfg.adminClientNames.length > 0 && !(cfg.tlsCert && cfg.tlsKey && cfg.tlsCa)) {
    throw new Error('adminClientNames needs mutual TLS: set tlsCert, tlsKey and tlsCa (client certificates are only checked against tlsCa)');
  }
  return cfg;
}
