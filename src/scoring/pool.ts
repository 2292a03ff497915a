// The scoring pool: piscina workers running the native DCN-v2. While every
// worker is busy, requests wait in arrival order (the oldest of either model
// first); each request is one worker task. (Merging waiting requests into one
// batch measured 0.95x on this project's 2-core machine, and was removed.)
// The queue is bounded; past the bound, score() fails fast with
// QueueFullError.
// A batch whose forward pass is cheaper than a thread hop is scored on the
// calling thread instead: a round trip to a worker costs ~1 ms of CPU in all on
// small VMs, more than the strong pre-ranker's pass over 200 rows or the demo
// ranker's over 250. Batches up to inlineBusyMaxFlops always run inline;
// batches up to inlineMaxFlops run inline when the caller says nothing else
// is waiting for the thread (score(..., preferInline)), so that under
// concurrent load the workers spread the scoring over the cores. A preferred
// batch larger than that (the 1M-item world's ranker over 250 rows) runs
// inline too, in slices of at most inlineMaxFlops with the event loop served
// between slices, up to inlineMaxSlices slices: no single stretch of work on
// the loop is longer than one slice, and the request saves the round trip.
import * as path from 'node:path';
import Piscina from 'piscina';

import type { Bundle } from '../bundle/loader';
import { nextTurn } from '../util/turn';
import { DcnCalibration, flattenWeights } from '../native/dcn';
import { DcnPrecisionSetting, fp32Backend, resolvePrecision } from '../native/dcn-precision';
import { onednnCpu } from '../native';
import { PrecisionChoice, ProbeResult, probePrecision } from '../native/precision-probe';
import type { LiveCatalog } from '../catalog/catalog';
import { calibrationSample } from './calibration';
import type { ModelName, ScoreTask, ScorerBackend, WorkerInit } from './protocol';
import { flopsPerRow, Scorer } from './scorer';

const asPromise = <T>(v: T | Promise<T>): Promise<T> => (v instanceof Promise ? v : Promise.resolve(v));

export class QueueFullError extends Error {
  constructor(
    readonly model: ModelName,
    readonly queuedRows: number,
  ) {
    super(`scoring queue full (${queuedRows} rows waiting for ${model})`);
    this.name = 'QueueFullError';
  }
}

/** A scoring batch whose worker exited twice: once on the first worker, once on the retry. */
export class WorkerLostError extends Error {
  constructor(
    readonly model: ModelName,
    readonly attempts: number,
    readonly lastError: Error,
  ) {
    super(`scoring batch for ${model} lost: its worker exited on each of ${attempts} attempts (${lastError.message})`);
    this.name = 'WorkerLostError';
  }
}

export interface PoolOptions {
  threads: number;
  /** Most rows waiting for a worker before score() refuses work. */
  maxQueuedRows: number;
  /** Batches of at most this many FLOPs are scored inline when the caller prefers it (0: never). */
  inlineMaxFlops: number;
  /** Batches of at most this many FLOPs are always scored inline (capped by inlineMaxFlops; default 4 MFLOP). */
  inlineBusyMaxFlops?: number;
  /**
   * A preferred batch over inlineMaxFlops runs inline in up to this many
   * slices of at most inlineMaxFlops each, yielding to the event loop between
   * them (default 4; 1: such batches go to a worker).
   */
  inlineMaxSlices?: number;
  /** How the models run (default native; the others are benchmark baselines). */
  backend?: ScorerBackend;
  /** The worker module, exporting worker.js's function (default worker.js; fault tests wrap it). */
  workerFile?: string;
  /**
   * Arithmetic of both DCN-v2 models on the native backend; overrides the
   * bundle's models.*.precision (default 'auto': by CPU, see dcn-precision.ts).
   */
  precision?: DcnPrecisionSetting;
  /**
   * Per model, the precision (and fp32 kernels) 'auto' resolved to by
   * measurement (ScoringPool.create); without it, 'auto' follows the
   * per-ISA rules of dcn-precision.ts.
   */
  choices?: Partial<Record<ModelName, PrecisionChoice>>;
  /** Rows int8 models calibrate on (default: a sample of the catalog, calibration.ts). */
  calibration?: DcnCalibration;
}

export interface BatchObserver {
  (model: ModelName, rows: number, segments: number, waitSeconds: number): void;
}

interface Pending {
  user: Float32Array;
  rows: Int32Array;
  now: number;
  enqueued: bigint;
  resolve(v: Float32Array): void;
  reject(e: unknown): void;
  signal?: AbortSignal;
}

/** What a scorer (worker or inline) is built from. */
export function workerInit(
  bundle: Bundle,
  catalog: LiveCatalog,
  backend: ScorerBackend,
  precision: Record<ModelName, PrecisionChoice>,
  calibration?: DcnCalibration,
): WorkerInit {
  return {
    backend,
    dim: catalog.dim,
    newItemMs: catalog.newItemMs,
    embeddings: catalog.cols.embeddings,
    logPrice: catalog.cols.logPrice,
    bias: catalog.cols.bias,
    createdAt: catalog.cols.createdAt,
    models: {
      ranker: { shape: bundle.ranker.shape, tensors: flattenWeights(bundle.ranker.shape, bundle.ranker.weights), ...precision.ranker },
      preranker: { shape: bundle.preranker.shape, tensors: flattenWeights(bundle.preranker.shape, bundle.preranker.weights), ...precision.preranker },
    },
    calibration: backend === 'native' && Object.values(precision).some((p) => p.precision === 'int8') ? (calibration ?? calibrationSample(catalog)) : undefined,
  };
}

export class ScoringPool {
  private readonly pool: Piscina;
  private readonly pending: Record<ModelName, Pending[]> = { ranker: [], preranker: [] };
  private queuedRows = 0;
  private inflight = 0;
  /** Queued requests dropped because their caller went away before a worker took them. */
  dropped = 0;
  private readonly heads: Record<ModelName, number>;
  private readonly flops: Record<ModelName, number>;
  /** The calling thread's scorer, once built (batches go to workers until then). */
  private inline: Scorer | null = null;
  private readonly inlineReady: Promise<void>;
  /** Batches run again after their worker exited mid-batch. */
  retriedBatches = 0;
  /** Rows scored on the calling thread (whole batches under inlineMaxFlops, or in slices). */
  inlineRows = 0;
  onBatch: BatchObserver | null = null;
  /** The arithmetic each model runs in (and, for fp32, its kernels). */
  readonly precision: Record<ModelName, PrecisionChoice>;
  /** What the 'auto' probe measured, per model it ran for. */
  readonly probes: Partial<Record<ModelName, ProbeResult>>;

  /**
   * A pool whose 'auto' models are resolved by timing the candidates on this
   * CPU (native/precision-probe.ts); an explicit precision (option or
   * manifest) is used as given.
   */
  static async create(bundle: Bundle, catalog: LiveCatalog, opts: PoolOptions): Promise<ScoringPool> {
    const probes: Partial<Record<ModelName, ProbeResult>> = {};
    // Sampled once: the int8 probe and the int8 models calibrate on the same rows.
    let calibration = opts.calibration;
    if ((opts.backend ?? 'native') === 'native') {
      for (const m of ['ranker', 'preranker'] as const) {
        const setting = opts.precision ?? bundle.manifest.models[m].precision;
        if ((setting !== undefined && setting !== 'auto') || opts.choices?.[m]) continue;
        if (catalog.size > 0) calibration ??= calibrationSample(catalog);
        probes[m] = await probePrecision(m, bundle[m].shape, bundle[m].weights, calibration, onednnCpu);
      }
    }
    const choices = { ...opts.choices };
    for (const [m, p] of Object.entries(probes)) choices[m as ModelName] ??= p.choice;
    const pool = new ScoringPool(bundle, catalog, { ...opts, choices, calibration });
    Object.assign(pool.probes, probes);
    return pool;
  }

  constructor(
    bundle: Bundle,
    catalog: LiveCatalog,
    private readonly opts: PoolOptions,
  ) {
    // int8 calibrates on the catalog's rows: an empty catalog runs fp32. The
    // baseline backends ('ort', 'ts') compute in fp32.
    const pick = (m: ModelName): PrecisionChoice => {
      if ((opts.backend ?? 'native') !== 'native') return { precision: 'fp32' };
      const chosen = opts.choices?.[m] ?? { precision: resolvePrecision(opts.precision ?? bundle.manifest.models[m].precision, onednnCpu, m) };
      const p = chosen.precision === 'int8' && catalog.size === 0 ? { precision: 'fp32' as const } : chosen;
      return p.precision === 'fp32' ? { precision: 'fp32', backend: p.backend ?? fp32Backend(onednnCpu) } : p;
    };
    this.probes = {};
    this.precision = { ranker: pick('ranker'), preranker: pick('preranker') };
    const init = workerInit(bundle, catalog, opts.backend ?? 'native', this.precision, opts.calibration);
    this.heads = { ranker: bundle.ranker.shape.heads, preranker: bundle.preranker.shape.heads };
    this.flops = { ranker: flopsPerRow(bundle.ranker.shape), preranker: flopsPerRow(bundle.preranker.shape) };
    this.inlineReady = opts.inlineMaxFlops > 0 ? Scorer.create(init).then((sc) => void (this.inline = sc)) : Promise.resolve();
    this.pool = new Piscina({
      filename: opts.workerFile ?? path.join(__dirname, 'worker.js'),
      minThreads: opts.threads,
      maxThreads: opts.threads,
      idleTimeout: Infinity,
      workerData: init,
    });
  }

  /** Resolves once the calling thread's scorer is built (inline scoring starts then). */
  get ready(): Promise<void> {
    return this.inlineReady;
  }

  get threads(): number {
    return this.opts.threads;
  }

  /** Share of time the workers were busy, as piscina measures it. */
  get utilization(): number {
    return this.pool.utilization;
  }

  get queueDepth(): number {
    return this.queuedRows;
  }

  /** The worker threads (diagnostics and fault tests). */
  get workers(): readonly import('node:worker_threads').Worker[] {
    return this.pool.threads;
  }

  /** Runs one tiny batch per worker so the first real requests are not slow. */
  async warm(user: Record<ModelName, Float32Array>, rows: Int32Array, now: number): Promise<void> {
    await this.inlineReady;
    const jobs: Promise<Float32Array>[] = [];
    for (let i = 0; i < this.opts.threads; i++) {
      jobs.push(this.score('preranker', user.preranker, rows, now), this.score('ranker', user.ranker, rows, now));
    }
    await Promise.all(jobs);
  }

  /**
   * Scores `rows` for one request; resolves to rows.length x heads
   * probabilities. preferInline: the calling thread has nothing else to do
   * (no other request in flight, or a single core), so batches up to
   * inlineMaxFlops may run here.
   */
  score(model: ModelName, user: Float32Array, rows: Int32Array, now: number, signal?: AbortSignal, preferInline = false): Promise<Float32Array> {
    if (rows.length === 0) return Promise.resolve(new Float32Array(0));
    const busyMax = Math.min(this.opts.inlineMaxFlops, this.opts.inlineBusyMaxFlops ?? 4_000_000);
    const flops = rows.length * this.flops[model];
    if (this.inline && flops <= (preferInline ? this.opts.inlineMaxFlops : busyMax)) {
      if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
      try {
        return asPromise(this.scoreInline(this.inline, model, user, rows, now));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.inline && preferInline && flops <= this.opts.inlineMaxFlops * (this.opts.inlineMaxSlices ?? 4)) {
      return this.scoreInSlices(this.inline, model, user, rows, now, signal);
    }
    if (this.queuedRows + rows.length > this.opts.maxQueuedRows && this.inflight >= this.opts.threads) {
      return Promise.reject(new QueueFullError(model, this.queuedRows));
    }
    return new Promise((resolve, reject) => {
      this.pending[model].push({ user, rows, now, enqueued: process.hrtime.bigint(), resolve, reject, signal });
      this.queuedRows += rows.length;
      this.pump();
    });
  }

  /** Lets the workers finish the batches they run (bounded by piscina's close timeout), then stops them. */
  async close(): Promise<void> {
    await this.pool.close().catch(() => this.pool.destroy());
  }

  private scoreInline(scorer: Scorer, model: ModelName, user: Float32Array, rows: Int32Array, now: number): Float32Array | Promise<Float32Array> {
    const out = scorer.score(model, user, Int32Array.of(0, rows.length), rows, now);
    this.inlineRows += rows.length;
    this.onBatch?.(model, rows.length, 1, 0);
    return out;
  }

  /**
   * A batch over inlineMaxFlops on the calling thread: equal slices of at
   * most inlineMaxFlops, each after a turn of the event loop (I/O and other
   * requests' stages run in between).
   */
  private async scoreInSlices(scorer: Scorer, model: ModelName, user: Float32Array, rows: Int32Array, now: number, signal?: AbortSignal): Promise<Float32Array> {
    const perSlice = Math.max(1, Math.floor(this.opts.inlineMaxFlops / this.flops[model]));
    const slices = Math.ceil(rows.length / perSlice);
    const h = this.heads[model];
    const out = new Float32Array(rows.length * h);
    for (let s = 0; s < slices; s++) {
      if (s > 0) await nextTurn();
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      const from = Math.floor((s * rows.length) / slices);
      const to = Math.floor(((s + 1) * rows.length) / slices);
      out.set(await this.scoreInline(scorer, model, user, rows.subarray(from, to), now), from * h);
    }
    return out;
  }

  private pump(): void {
    while (this.inflight < this.opts.threads) {
      const model = this.nextModel();
      if (model === null) return;
      this.dispatch(model);
    }
  }

  /** The model whose oldest waiting request has waited longest. */
  private nextModel(): ModelName | null {
    const a = this.pending.ranker[0];
    const b = this.pending.preranker[0];
    if (!a && !b) return null;
    if (!a) return 'preranker';
    if (!b) return 'ranker';
    return a.enqueued <= b.enqueued ? 'ranker' : 'preranker';
  }

  /** Sends the model's oldest waiting request (callers gone meanwhile are dropped) to a worker. */
  private dispatch(model: ModelName): void {
    const queue = this.pending[model];
    let p: Pending | undefined;
    while ((p = queue.shift()) !== undefined) {
      this.queuedRows -= p.rows.length;
      if (!p.signal?.aborted) break;
      this.dropped++;
      p.reject(p.signal.reason ?? new Error('aborted'));
    }
    if (p === undefined) return;
    const wait = Number(process.hrtime.bigint() - p.enqueued) / 1e9;
    this.onBatch?.(model, p.rows.length, 1, wait);
    this.inflight++;
    void this.runTask(model, p, 1).finally(() => {
      this.inflight--;
      this.pump();
    });
  }

  /**
   * Runs one request's scoring on a worker and settles it. Scoring is
   * idempotent, so a task lost to its worker exiting (a crash, or the thread
   * terminated) runs once more on a fresh worker (piscina replaces the dead
   * one), unless its caller left meanwhile; a second loss fails it with
   * WorkerLostError. Any other error fails it at once. Never rejects.
   */
  private async runTask(model: ModelName, p: Pending, attempt: number): Promise<void> {
    // Copies: the arrays are transferred (detached) to the worker.
    const users = Float32Array.from(p.user);
    const offsets = Int32Array.of(0, p.rows.length);
    const rows = Int32Array.from(p.rows);
    const task: ScoreTask = { model, users, offsets, rows, now: p.now };
    try {
      p.resolve((await this.pool.run(task, { transferList: [users.buffer, offsets.buffer, rows.buffer] as ArrayBuffer[] })) as Float32Array);
    } catch (err) {
      if (!isWorkerExit(err)) return p.reject(err);
      if (attempt >= 2) return p.reject(new WorkerLostError(model, attempt, err));
      if (p.signal?.aborted) {
        this.dropped++;
        return p.reject(p.signal.reason ?? new Error('aborted'));
      }
      this.retriedBatches++;
      await this.runTask(model, p, attempt + 1);
    }
  }
}

/** piscina's error for the tasks of a worker that exited while running them. */
function isWorkerExit(err: unknown): err is Error {
  return err instanceof Error && /^worker exited with code/.test(err.message);
}
