// The ranking service: gRPC (RankingService, grpc.health.v1, reflection) and
// the HTTP side (/metrics, /healthz, JSON POST /v1/rank with the same
// semantics as Rank). The engine may still be loading when the servers start:
// health says NOT_SERVING and calls get UNAVAILABLE until setEngine().
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';

import type { Engine } from '../engine/engine';
import type { RankOutput } from '../engine/request';
import { PROVENANCE } from '../engine/types';
import { grpcToHttpStatus, startHttpServer, HttpServerHandle } from './http';
import { grpcStatusName, Metrics } from './metrics';
import { ServiceError, toStatus } from './errors';
import { DEFAULT_LIMITS, DEFAULT_RANK, Limits, RankDefaults, toEvents, toIds, toItems, toRankInput } from './validate';

export const SERVICE_NAME = 'ranking.v1.RankingService';
const PROTO = path.join(__dirname, '..', '..', '..', 'proto', 'ranking', 'v1', 'ranking.proto');
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export interface ServiceOptions {
  host: string;
  grpcPort: number;
  httpPort: number;
  limits?: Partial<Limits>;
  defaults?: Partial<RankDefaults>;
  maxMessageBytes?: number;
  /** Rank calls served at once (gRPC and HTTP together); the excess gets RESOURCE_EXHAUSTED at once. */
  maxConcurrentRanks?: number;
  metrics: Metrics;
  logger: Logger;
}

const PROVENANCE_NAMES: Record<number, string> = {
  [PROVENANCE.retrieved]: 'PROVENANCE_RETRIEVED',
  [PROVENANCE.fresh]: 'PROVENANCE_FRESH',
  [PROVENANCE.provided]: 'PROVENANCE_PROVIDED',
};

export function loadProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO, LOADER_OPTIONS);
}

export class RankingService {
  private engine: Engine | null = null;
  private draining = false;
  private readonly grpcServer: grpc.Server;
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
  private http: HttpServerHandle | null = null;
  private readonly limits: Limits;
  private readonly defaults: RankDefaults;
  private ranking = 0;
  grpcPort = 0;
  httpPort = 0;

  constructor(private readonly opts: ServiceOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.defaults = { ...DEFAULT_RANK, ...opts.defaults };
    const max = opts.maxMessageBytes ?? 4 << 20;
    this.grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': max, 'grpc.max_send_message_length': max });
  }

  async start(): Promise<void> {
    const def = loadProto();
    const pkg = grpc.loadPackageDefinition(def) as unknown as { ranking: { v1: { RankingService: grpc.ServiceClientConstructor } } };
    this.grpcServer.addService(pkg.ranking.v1.RankingService.service, {
      Rank: this.unary('Rank', (req, call, requestId) => this.rank(req, call, requestId)),
      RecordEvents: this.unary('RecordEvents', (req) => this.recordEvents(req)),
      UpsertItems: this.unary('UpsertItems', (req) => this.upsertItems(req)),
      DeleteItems: this.unary('DeleteItems', (req) => this.deleteItems(req)),
    });
    this.health.addToServer(this.grpcServer);
    new ReflectionService(def).addToServer(this.grpcServer);
    const { host, grpcPort } = this.opts;
    this.grpcPort = await new Promise<number>((resolve, reject) =>
      this.grpcServer.bindAsync(`${host}:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.http = await startHttpServer({
      port: this.opts.httpPort,
      host,
      metrics: this.opts.metrics,
      health: () => this.engine !== null && !this.draining,
      rank: (body, requestId) => this.httpRank(body, requestId),
    });
    this.httpPort = this.http.port;
  }

  /** Serves `engine` from now on (the first call turns health to SERVING). */
  setEngine(engine: Engine): void {
    this.engine = engine;
    const m = this.opts.metrics;
    m.catalogItems.set(engine.catalog.itemCount);
    m.collect = () => {
      m.poolUtilization.set(engine.pool.utilization);
      m.poolQueueDepth.set(engine.pool.queueDepth);
      m.catalogItems.set(engine.catalog.itemCount);
    };
    this.health.setStatus('', 'SERVING');
    this.health.setStatus(SERVICE_NAME, 'SERVING');
  }

  /** Stops taking calls, lets in-flight ones finish (up to graceMs), closes both servers. */
  async stop(graceMs = 5000): Promise<void> {
    this.draining = true;
    this.health.setStatus('', 'NOT_SERVING');
    this.health.setStatus(SERVICE_NAME, 'NOT_SERVING');
    await Promise.all([
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.grpcServer.forceShutdown(), graceMs);
        this.grpcServer.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
      this.http?.close(),
    ]);
  }

  private ready(): Engine {
    if (this.draining) throw new ServiceError('SHUTTING_DOWN', 'the server is shutting down');
    if (!this.engine) throw new ServiceError('NOT_READY', 'the engine is still loading its bundle');
    return this.engine;
  }

  /** Wraps a handler: status mapping, metrics and logs; never throws into grpc-js. */
  private unary(
    method: string,
    fn: (req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>, requestId: string) => Promise<object>,
  ): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const t0 = process.hrtime.bigint();
      // One structured log line per call (debug level), keyed by the request id.
      const requestId = (call.metadata.get('x-request-id')[0] as string | undefined) ?? randomUUID();
      const log = this.opts.logger.child({ method, requestId });
      fn(call.request, call, requestId).then(
        (res) => {
          const secs = Number(process.hrtime.bigint() - t0) / 1e9;
          this.opts.metrics.observeRequest(method, grpc.status.OK, secs);
          log.debug({ code: 'OK', ms: secs * 1000 }, 'call');
          callback(null, res);
        },
        (err: unknown) => {
          const s = toStatus(err);
          const secs = Number(process.hrtime.bigint() - t0) / 1e9;
          this.opts.metrics.observeRequest(method, s.code, secs);
          if (s.code === grpc.status.INTERNAL) log.error({ err }, 'internal error');
          else log.debug({ code: grpc.status[s.code], ms: secs * 1000, details: s.details }, 'call');
          callback({ code: s.code, details: s.details, metadata: s.metadata });
        },
      );
    };
  }

  private async rank(req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>, requestId: string): Promise<object> {
    const d = call.getDeadline();
    const deadline = d instanceof Date ? d.getTime() : Number.isFinite(d) ? Number(d) : Infinity;
    const ac = new AbortController();
    call.on('cancelled', () => ac.abort(new ServiceError('CANCELLED', 'the client cancelled the call')));
    return this.rankOnce(req, requestId, deadline, ac.signal);
  }

  private async rankOnce(req: unknown, requestId: string, grpcDeadline: number, signal?: AbortSignal): Promise<object> {
    const engine = this.ready();
    // Load shedding: past the concurrency limit, refuse at once instead of
    // queueing without bound, so accepted calls keep their latency.
    const limit = this.opts.maxConcurrentRanks ?? 64;
    if (this.ranking >= limit) throw new ServiceError('OVERLOADED', `${this.ranking} Rank calls in progress (limit ${limit}); retry later`, 20);
    this.ranking++;
    try {
      return await this.rankWith(engine, req, requestId, grpcDeadline, signal);
    } finally {
      this.ranking--;
    }
  }

  private async rankWith(engine: Engine, req: unknown, requestId: string, grpcDeadline: number, signal?: AbortSignal): Promise<object> {
    const budget = Number((req as { latency_budget_ms?: unknown })?.latency_budget_ms ?? 0);
    const deadline = Math.min(grpcDeadline, budget > 0 ? Date.now() + budget : Infinity);
    if (Date.now() >= deadline) throw new ServiceError('DEADLINE', 'the deadline passed before the request was started');
    const { input, unknownCandidates } = toRankInput(req, {
      bundle: engine.bundle,
      catalog: engine.catalog,
      now: engine.now(),
      requestId,
      deadline,
      limits: this.limits,
      defaults: this.defaults,
    });
    input.signal = signal;
    const out = await engine.rank(input);
    return this.toResponse(engine, out, unknownCandidates, requestId);
  }

  private async httpRank(body: unknown, requestId: string) {
    try {
      return { status: 200, body: await this.rankOnce(body, requestId, Infinity) };
    } catch (err) {
      const s = toStatus(err);
      const status = grpcToHttpStatus(s.code);
      return {
        status,
        grpcCode: s.code,
        body: { error: { code: status, status: grpcStatusName(s.code), reason: String(s.metadata.get('error-code')[0] ?? 'INTERNAL'), message: s.details }, requestId },
      };
    }
  }

  private toResponse(engine: Engine, out: RankOutput, unknown: string[], requestId: string): object {
    const { catalog } = engine;
    const objectives = engine.bundle.manifest.objectives;
    return {
      items: out.items.map((it) => ({
        item_id: catalog.ids[it.row],
        score: it.score,
        objectives: objectives.map((o, k) => ({ objective: o, probability: it.objectives[k] })),
        provenance: PROVENANCE_NAMES[it.provenance],
        strong_scored: it.strong,
        exploration: it.exploration,
        brand: catalog.brands.names[catalog.brand[it.row]],
        category: catalog.categories.names[catalog.category[it.row]],
        stage_scores: it.stageScores ?? [],
      })),
      bundle_version: out.bundleVersion,
      unknown_candidate_ids: unknown,
      degraded: out.degraded,
      degradations: out.degradations,
      stages: out.stages.map((s) => ({ stage: s.stage, millis: s.millis, candidates_in: s.candidatesIn, candidates_out: s.candidatesOut, note: s.note })),
      removed: out.removed.map((r) => ({ item_id: catalog.ids[r.row], stage: r.stage, reason: r.reason })),
      request_id: requestId,
    };
  }

  private async recordEvents(req: unknown): Promise<object> {
    const engine = this.ready();
    const events = toEvents(req, engine.catalog, engine.now(), this.limits);
    return { accepted: engine.recordEvents(events) };
  }

  private async upsertItems(req: unknown): Promise<object> {
    const engine = this.ready();
    return engine.upsertItems(toItems(req, engine.catalog.dim, engine.now(), this.limits));
  }

  private async deleteItems(req: unknown): Promise<object> {
    const engine = this.ready();
    const r = await engine.deleteItems(toIds(req, this.limits));
    return { deleted: r.deleted, unknown_item_ids: r.unknown };
  }
}
