// Prometheus metrics of one engine instance. Every instance owns its own
// Registry (never prom-client's global one), so several servers can run in one
// process (tests) without their series colliding.
//
// Label values must stay low-cardinality: `method` is an RPC name, `code` a
// gRPC status name, `stage` a stage id, `model` a model name, `action` an
// action type, `reason` a degradation reason. Never put user or item ids in a
// label.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** gRPC status code names, indexed by code (grpc-js `status`). */
export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;
export type GrpcStatusName = (typeof GRPC_STATUS_NAMES)[number];

/** The name of a gRPC status code; anything out of range is 'UNKNOWN'. */
export function grpcStatusName(code: number): GrpcStatusName {
  return Number.isInteger(code) && code >= 0 && code < GRPC_STATUS_NAMES.length
    ? GRPC_STATUS_NAMES[code]!
    : 'UNKNOWN';
}

/**
 * Latency buckets in seconds: 100 us .. 1 s in 1-1.5-2-3-5-7.5 steps (x1.33 ..
 * x1.67), fine enough to read a p99 of a few milliseconds.
 */
export const LATENCY_BUCKETS: readonly number[] = decades(1e-4, 1, [1, 1.5, 2, 3, 5, 7.5]);
/** Candidate-count buckets: 1 .. 100k in 1-2-5 steps. */
export const CANDIDATE_BUCKETS: readonly number[] = decades(1, 1e5, [1, 2, 5]);
/** Micro-batch row buckets: powers of two, 1 .. 8192. */
export const BATCH_ROW_BUCKETS: readonly number[] = Array.from({ length: 14 }, (_, i) => 2 ** i);
/** Fraction buckets: 0 (exactly none), then 0.05 .. 1. */
export const FRACTION_BUCKETS: readonly number[] = [
  0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
];

function decades(from: number, to: number, mantissas: readonly number[]): number[] {
  const out: number[] = [];
  for (let exp = Math.round(Math.log10(from)); ; exp++) {
    for (const m of mantissas) {
      // Round away binary noise (3 * 1e-4 = 0.00030000000000000003).
      const v = Number((m * 10 ** exp).toPrecision(6));
      if (v > to * (1 + 1e-9)) return out;
      if (v >= from * (1 - 1e-9)) out.push(v);
    }
  }
}

export interface MetricsOptions {
  /** Prefix of every engine metric name (not of the process_/nodejs_ ones). Default 'ranking_'. */
  prefix?: string;
  /** Register Node's default process metrics (process_*, nodejs_*). Default true. */
  defaultMetrics?: boolean;
  /** Labels added to every series of this registry (e.g. { instance_role: 'canary' }). */
  defaultLabels?: Record<string, string>;
}

/** Refreshes gauges at scrape time (pool utilisation, queue depth, catalog size). */
export type CollectHook = () => void | Promise<void>;

export interface Metrics {
  readonly registry: Registry;
  /** The prefix every engine metric name starts with. */
  readonly prefix: string;
  /** Content type of `text()` (Prometheus text format 0.0.4). */
  readonly contentType: string;

  /** `requests_total{method, code}`: finished RPCs by gRPC status name. */
  readonly requests: Counter<'method' | 'code'>;
  /** `request_duration_seconds{method}`. */
  readonly requestDuration: Histogram<'method'>;
  /** `stage_duration_seconds{stage}`. */
  readonly stageDuration: Histogram<'stage'>;
  /** `stage_candidates_in{stage}`. */
  readonly stageCandidatesIn: Histogram<'stage'>;
  /** `stage_candidates_out{stage}`. */
  readonly stageCandidatesOut: Histogram<'stage'>;
  /** `strong_model_fraction`: share of the pre-rank candidates the strong model scored, per request. */
  readonly strongModelFraction: Histogram<never>;
  /** `batch_rows{model}`: rows per scoring batch (one request's candidates, inline or in a worker). */
  readonly batchRows: Histogram<'model'>;
  /** `batch_queue_wait_seconds{model}`: time a request waited for a scoring worker. */
  readonly batchQueueWait: Histogram<'model'>;
  /** `pool_utilization`: busy workers / workers, in [0, 1]. */
  readonly poolUtilization: Gauge<never>;
  /** `pool_queue_depth`: tasks waiting for a worker. */
  readonly poolQueueDepth: Gauge<never>;
  /** `events_ingested_total{action}`. */
  readonly eventsIngested: Counter<'action'>;
  /** `event_log_write_seconds`: one group-commit write (+ fdatasync) of the durable event log. */
  readonly eventLogWrite: Histogram<never>;
  /** `event_log_events_total`: events made durable in the event log. */
  readonly eventLogEvents: Counter<never>;
  /** `events_replayed_total`: events read back from the event log and applied at startup. */
  readonly eventsReplayed: Counter<never>;
  /** `impressions_logged_total{result}`: Ranks sent to the impression log: written, dropped (the log is behind) or failed. */
  readonly impressionsLogged: Counter<'result'>;
  /** `catalog_stream_entries_total{origin, result}`: catalog stream entries applied here (origin local: made by this replica). */
  readonly catalogStreamEntries: Counter<'origin' | 'result'>;
  /** `catalog_items`: live items in the catalog. */
  readonly catalogItems: Gauge<never>;
  /** `bundle_info{name, version}` = 1 for the loaded bundle only (use `setBundle`). */
  readonly bundleInfo: Gauge<'name' | 'version'>;
  /** `model_precision_info{model, precision, kernels}` = 1 for what each ranker runs (use `setModelPrecision`). */
  readonly modelPrecisionInfo: Gauge<'model' | 'precision' | 'kernels'>;
  /** `degraded_total{reason}`: responses where the cascade cut a corner. */
  readonly degraded: Counter<'reason'>;
  /** `candidates_dropped_total{stage, reason}`: candidates removed for a defect of their own (a score that is not finite). */
  readonly candidatesDropped: Counter<'stage' | 'reason'>;
  /** `policy_rule_unmet_total{rule}`: pages on which the candidates could not satisfy a page rule (brand_run). */
  readonly policyRuleUnmet: Counter<'rule'>;
  /** `user_embedding_cache_total{result}`: user embeddings reused from the cache ("hit") or computed by the tower ("miss"). */
  readonly userEmbeddingCache: Counter<'result'>;

  /**
   * Called once per scrape before the gauges are read (set it to refresh
   * pool_utilization, pool_queue_depth, catalog_items). A hook that throws or
   * rejects leaves the previous values in place; the scrape still succeeds.
   */
  collect: CollectHook | undefined;

  /** Counts one finished RPC and observes its latency. `code` is a gRPC code or its name. */
  observeRequest(method: string, code: number | GrpcStatusName, seconds: number): void;
  /** Observes one stage run: its latency and candidate counts. */
  observeStage(stage: string, seconds: number, candidatesIn: number, candidatesOut: number): void;
  /** Observes one scoring batch: its rows and how long it waited for a worker. */
  observeBatch(model: string, rows: number, queueWaitSeconds: number): void;
  /** Sets bundle_info to exactly { name, version } = 1 (older label values are removed). */
  setBundle(name: string, version: string): void;
  /** Sets model_precision_info to exactly the given models' { precision, kernels } = 1. */
  setModelPrecision(models: Record<string, { precision: string; backend?: string }>): void;
  /** The registry in Prometheus text format (runs `collect` first). */
  text(): Promise<string>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * A gauge `collect` that runs the metrics' hook once per scrape, shared by
 * every gauge that needs it: the registry reads metrics concurrently, so an
 * async hook must finish before any of those gauges reports its value.
 */
function collectOnce(hookOf: () => CollectHook | undefined): () => Promise<void> | undefined {
  let hookRun: Promise<void> | undefined;
  return function (): Promise<void> | undefined {
    const hook = hookOf();
    if (!hook) return undefined;
    if (hookRun) return hookRun;
    let result: void | Promise<void>;
    try {
      result = hook();
    } catch {
      return undefined;
    }
    if (!(result instanceof Promise)) return undefined;
    hookRun = result.catch(() => undefined).finally(() => {
      hookRun = undefined;
    });
    return hookRun;
  };
}

/** Requests and the cascade's stages. */
function requestMetrics(n: (name: string) => string, registers: Registry[]) {
  const requests = new Counter({
    name: n('requests_total'),
    help: 'Finished requests by method and gRPC status code name.',
    labelNames: ['method', 'code'] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: n('request_duration_seconds'),
    help: 'Request latency in seconds, by method.',
    labelNames: ['method'] as const,
    buckets: [...LATENCY_BUCKETS],
    registers,
  });
  const stageDuration = new Histogram({
    name: n('stage_duration_seconds'),
    help: 'Cascade stage latency in seconds, by stage.',
    labelNames: ['stage'] as const,
    buckets: [...LATENCY_BUCKETS],
    registers,
  });
  const stageCandidatesIn = new Histogram({
    name: n('stage_candidates_in'),
    help: 'Candidates entering a cascade stage, by stage.',
    labelNames: ['stage'] as const,
    buckets: [...CANDIDATE_BUCKETS],
    registers,
  });
  const stageCandidatesOut = new Histogram({
    name: n('stage_candidates_out'),
    help: 'Candidates leaving a cascade stage, by stage.',
    labelNames: ['stage'] as const,
    buckets: [...CANDIDATE_BUCKETS],
    registers,
  });
  const strongModelFraction = new Histogram<never>({
    name: n('strong_model_fraction'),
    help: 'Fraction of pre-rank candidates scored by the strong model, per request.',
    buckets: [...FRACTION_BUCKETS],
    registers,
  });
  return { requests, requestDuration, stageDuration, stageCandidatesIn, stageCandidatesOut, strongModelFraction };
}

/** The scoring pool. */
function poolMetrics(n: (name: string) => string, registers: Registry[], collect: () => Promise<void> | undefined) {
  const batchRows = new Histogram({
    name: n('batch_rows'),
    help: 'Rows per scoring batch (one request), by model.',
    labelNames: ['model'] as const,
    buckets: [...BATCH_ROW_BUCKETS],
    registers,
  });
  const batchQueueWait = new Histogram({
    name: n('batch_queue_wait_seconds'),
    help: 'Time a scoring batch waited for a worker, in seconds, by model.',
    labelNames: ['model'] as const,
    buckets: [...LATENCY_BUCKETS],
    registers,
  });
  const poolUtilization = new Gauge<never>({
    name: n('pool_utilization'),
    help: 'Busy workers / workers in the inference pool, in [0, 1].',
    registers,
    collect,
  });
  const poolQueueDepth = new Gauge<never>({
    name: n('pool_queue_depth'),
    help: 'Tasks waiting for an inference pool worker.',
    registers,
    collect,
  });
  return { batchRows, batchQueueWait, poolUtilization, poolQueueDepth };
}

/** Events, the logs, the catalog and the loaded models. */
function stateMetrics(n: (name: string) => string, registers: Registry[], collect: () => Promise<void> | undefined) {
  const eventsIngested = new Counter({
    name: n('events_ingested_total'),
    help: 'User events applied, by action type.',
    labelNames: ['action'] as const,
    registers,
  });
  const eventLogWrite = new Histogram<never>({
    name: n('event_log_write_seconds'),
    help: 'Duration of one group-commit write (and fdatasync) of the durable event log, in seconds.',
    buckets: [...LATENCY_BUCKETS],
    registers,
  });
  const eventLogEvents = new Counter<never>({
    name: n('event_log_events_total'),
    help: 'Events made durable in the event log.',
    registers,
  });
  const eventsReplayed = new Counter<never>({
    name: n('events_replayed_total'),
    help: 'Events read back from the event log and applied at startup.',
    registers,
  });
  const impressionsLogged = new Counter({ name: n('impressions_logged_total'), help: 'Ranks sent to the impression log, by result: written, dropped (the log is behind) or failed.', labelNames: ['result'] as const, registers });
  const streamHelp = 'Catalog stream entries (one UpsertItems or DeleteItems call of any replica) applied here, by origin (local: made here) and result (applied, failed).';
  const catalogStreamEntries = new Counter({ name: n('catalog_stream_entries_total'), help: streamHelp, labelNames: ['origin', 'result'] as const, registers });
  const catalogItems = new Gauge<never>({
    name: n('catalog_items'),
    help: 'Live items in the catalog.',
    registers,
    collect,
  });
  const bundleInfo = new Gauge({
    name: n('bundle_info'),
    help: 'The loaded model bundle (value 1 for the current name and version).',
    labelNames: ['name', 'version'] as const,
    registers,
  });
  const modelPrecisionInfo = new Gauge({
    name: n('model_precision_info'),
    help: "The arithmetic each DCN-v2 model runs in (value 1): precision fp32, bf16 or int8; kernels onednn or gemm (the engine's packed fp32 kernels).",
    labelNames: ['model', 'precision', 'kernels'] as const,
    registers,
  });
  return { eventsIngested, eventLogWrite, eventLogEvents, eventsReplayed, impressionsLogged, catalogStreamEntries, catalogItems, bundleInfo, modelPrecisionInfo };
}

/** What the cascade did to a request: degradations, dropped candidates, unmet rules, the embedding cache. */
function outcomeMetrics(n: (name: string) => string, registers: Registry[]) {
  const degraded = new Counter({
    name: n('degraded_total'),
    help: 'Responses degraded to meet the deadline, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const candidatesDropped = new Counter({
    name: n('candidates_dropped_total'),
    help: 'Candidates removed from a ranking because a stage scored them with a value that is not finite, by stage and reason.',
    labelNames: ['stage', 'reason'] as const,
    registers,
  });
  const policyRuleUnmet = new Counter({
    name: n('policy_rule_unmet_total'),
    help: 'Pages served without satisfying a page rule because the candidates could not (e.g. too few brands for the brand-run limit), by rule.',
    labelNames: ['rule'] as const,
    registers,
  });
  const userEmbeddingCache = new Counter({
    name: n('user_embedding_cache_total'),
    help: 'User embeddings per Rank call: reused from the cache (result="hit") or computed by the user tower (result="miss").',
    labelNames: ['result'] as const,
    registers,
  });
  return { degraded, candidatesDropped, policyRuleUnmet, userEmbeddingCache };
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const prefix = opts.prefix ?? 'ranking_';
  if (prefix !== '' && !METRIC_NAME.test(prefix)) {
    throw new TypeError(`invalid metric prefix ${JSON.stringify(prefix)}`);
  }
  const registry = new Registry();
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  const registers = [registry];
  const n = (name: string): string => prefix + name;

  const collect = collectOnce(() => metrics.collect);

  const req = requestMetrics(n, registers);
  const pool = poolMetrics(n, registers, collect);
  const state = stateMetrics(n, registers, collect);
  const outcome = outcomeMetrics(n, registers);

  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // prom-client's nodejs_active_{handles,requests,resources}_total are
    // gauges, and a name ending in _total is a counter's (promtool check
    // metrics refuses them); the per-type gauges without the suffix stay.
    for (const m of registry.getMetricsAsArray()) {
      if (m.name.endsWith('_total') && String(m.type) !== 'counter') registry.removeSingleMetric(m.name);
    }
  }

  const metrics: Metrics = {
    registry,
    prefix,
    contentType: registry.contentType,
    ...req,
    ...pool,
    ...state,
    ...outcome,
    collect: undefined,
    observeRequest(method, code, seconds) {
      const name = typeof code === 'number' ? grpcStatusName(code) : code;
      req.requests.inc({ method, code: name });
      req.requestDuration.observe({ method }, seconds);
    },
    observeStage(stage, seconds, candidatesIn, candidatesOut) {
      req.stageDuration.observe({ stage }, seconds);
      req.stageCandidatesIn.observe({ stage }, candidatesIn);
      req.stageCandidatesOut.observe({ stage }, candidatesOut);
    },
    observeBatch(model, rows, queueWaitSeconds) {
      pool.batchRows.observe({ model }, rows);
      pool.batchQueueWait.observe({ model }, queueWaitSeconds);
    },
    setBundle(name, version) {
      state.bundleInfo.reset();
      state.bundleInfo.set({ name, version }, 1);
    },
    setModelPrecision(models) {
      state.modelPrecisionInfo.reset();
      for (const [model, p] of Object.entries(models)) state.modelPrecisionInfo.set({ model, precision: p.precision, kernels: p.precision === 'fp32' ? (p.backend ?? 'gemm') : 'onednn' }, 1);
    },
    text() {
      return registry.metrics();
    },
  };
  return metrics;
}
