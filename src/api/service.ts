// The ranking service: gRPC (RankingService, grpc.health.v1, reflection) and
// the HTTP side (/metrics, /healthz, proto3 JSON POST /v1/rank and
// /v1/events with the same semantics as Rank and RecordEvents). The engine may still be loading when the servers start:
// health says NOT_SERVING and calls get UNAVAILABLE until setEngine().
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';

import type { Engine } from '../pipeline/engine';
import { CallLimit } from '../pipeline/admission';
import { DEFAULT_RANK } from '../pipeline/options';
import type { RankDefaults } from '../pipeline/request';
import { CASCADE_STAGES } from '../stages';
import type { Metrics } from '../metrics/metrics';
import { AdminSetting, authorizeAdmin } from './admin-auth';
import { CatalogChanges, ReplayStats } from './catalog-changes';
import { SharedCatalog } from './shared-catalog';
import type { RedisCatalogStream } from '../catalog/redis-catalog-stream';
import type { CatalogChange, CatalogLog } from '../catalog/catalog-log';
import { decodeFailureInterceptor, guardDeserializers, requestTypes } from './decode-guard';
import { invalid, ServiceError } from './errors';
import { DEFAULT_MAX_JOURNAL, EventJournal, toRows } from './event-journal';
import { EventLog, EventLogClosedError, EventLogFullError, LoggedEvent } from '../state/event-log';
import { gatewayCall } from './gateway';
import type { ImpressionRecorder } from './impressions';
import { startHttpServer, HttpServerHandle } from './http';
import { ProfileSet } from './profiles';
import { LOADER_OPTIONS, loadProto, SERVICE_NAME } from './proto';
import { createJsonCodec, JsonCodec } from './proto-json';
import { RankResponse, rankResponseSerializer } from './rank-response';
import { unaryCall, UnaryFn } from './unary';
import { namedDefinition } from './reflection';
import { BundleReloader, ReloadResult } from './reload';
import { DEFAULT_LIMITS, Limits, toEvents, toIds, toItems, toRankInput } from './validate';

export type { ReloadResult };
export { LOADER_OPTIONS, loadProto, SERVICE_NAME };

export interface ServiceOptions {
  host: string;
  grpcPort: number;
  httpPort: number;
  limits?: Partial<Limits>;
  defaults?: Partial<RankDefaults>;
  /**
   * Rank profiles and experiments (profiles.ts; --profiles FILE). Absent:
   * only the built-in profile ("default": `defaults`, every stage).
   */
  profiles?: ProfileSet;
  maxMessageBytes?: number;
  /**
   * Rank calls admitted at once, running or waiting for a cascade slot (gRPC
   * and HTTP together; a memory bound: the engine's admission refuses by
   * predicted wait well before it under most loads); the excess gets
   * RESOURCE_EXHAUSTED at once.
   */
  maxConcurrentRanks?: number;
  /**
   * Admin calls (UpsertItems, DeleteItems, ReloadBundle): a bearer token they
   * must present ("authorization: Bearer <token>"), 'disabled' to refuse them
   * all, or 'open' (the default) for trusted networks and tests.
   */
  admin?: AdminSetting;
  /**
   * Client certificate identities (subject CN or SAN DNS name, exact match)
   * that may make admin calls without a token. Only certificates the TLS
   * layer verified against the server's client CA (mutual TLS) count.
   * See admin-auth.ts for the full rule.
   */
  adminClientNames?: readonly string[];
  /** Directory that ReloadBundle paths are resolved in and must stay inside. */
  bundleRoot?: string;
  /** Builds and warms an engine for a bundle directory (ReloadBundle). */
  loadEngine?: (dir: string) => Promise<Engine>;
  /** Most recorded events kept for replay into a reloaded bundle. */
  maxJournal?: number;
  /**
   * Durable log of recorded events: RecordEvents acknowledges only events
   * written to it (and synced, per its sync setting), and restoreEvents()
   * applies what it held at startup. Without it, events live in memory only.
   */
  eventLog?: EventLog;
  /**
   * Durable log of catalog changes: UpsertItems and DeleteItems acknowledge
   * only changes written to it, and restoreCatalog() re-applies what it held
   * at startup. Without it, changes live in memory only (a ReloadBundle still
   * re-applies them; a restart loses them).
   */
  catalogLog?: CatalogLog;
  /** The impression log's recorder (--impression-log): a sampled share of Ranks, written as they are answered. */
  impressions?: ImpressionRecorder;
  /** Called when a compaction of the catalog log fails. */
  onCatalogLogError?: (err: Error) => void;
  /** Server credentials (TLS / mutual TLS); insecure when absent. */
  credentials?: grpc.ServerCredentials;
  metrics: Metrics;
  logger: Logger;
}

export class RankingService {
  private engine: Engine | null = null;
  private draining = false;
  private readonly grpcServer: grpc.Server;
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
  private http: HttpServerHandle | null = null;
  private json: JsonCodec | null = null;
  private readonly limits: Limits;
  private readonly defaults: RankDefaults;
  private readonly profiles: ProfileSet;
  private readonly calls: CallLimit;
  private readonly reloader: BundleReloader;
  /** Events accepted since start (and restored from the event log), replayed into a reloaded bundle. */
  private readonly journal: EventJournal;
  /** Catalog changes since the serving bundle was built, re-applied to reloaded bundles. */
  private readonly catalogChanges: CatalogChanges;
  /** The catalog stream shared by every replica (shareCatalog()), if any. */
  private shared: SharedCatalog | null = null;

  grpcPort = 0;
  httpPort = 0;

  constructor(private readonly opts: ServiceOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.defaults = { ...DEFAULT_RANK, ...opts.defaults };
    this.calls = new CallLimit(opts.maxConcurrentRanks);
    this.journal = new EventJournal(opts.maxJournal ?? DEFAULT_MAX_JOURNAL);
    this.catalogChanges = new CatalogChanges({ log: opts.catalogLog, onError: opts.onCatalogLogError });
    this.reloader = new BundleReloader({
      root: opts.bundleRoot,
      load: opts.loadEngine,
      catalogChanges: this.catalogChanges,
      journal: this.journal,
      current: () => this.engine,
      serve: (e) => this.setEngine(e),
      logger: opts.logger,
    });
    this.profiles = opts.profiles ?? ProfileSet.builtin(this.defaults, CASCADE_STAGES);
    const max = opts.maxMessageBytes ?? 4 << 20;
    this.grpcServer = new grpc.Server({
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      // channelz's per-call bookkeeping costs ~1% of a W2 Rank's CPU; nothing here reads it.
      'grpc.enable_channelz': 0,
      interceptors: [decodeFailureInterceptor({ requestType: (p) => this.requestTypes.get(p), onEarlyStatus: (p, code, secs) => this.observeEarly(p, code, secs) })],
    });
  }

  async start(): Promise<void> {
    const def = loadProto();
    // Request messages that do not decode reach the unary wrapper as an UndecodableMessage.
    const guarded = guardDeserializers(def, SERVICE_NAME);
    for (const p of requestTypes(def, SERVICE_NAME).keys()) this.rankingPaths.add(p);
    // Reflection describes every service served here, in files named by their paths.
    const described = namedDefinition();
    for (const [name, d] of Object.entries(described)) {
      if (!('format' in d)) for (const [p, t] of requestTypes(described, name)) this.requestTypes.set(p, t);
    }
    const pkg = grpc.loadPackageDefinition(guarded) as unknown as { ranking: { v1: { RankingService: grpc.ServiceClientConstructor } } };
    // Rank responses encode themselves (rank-response.ts).
    const service = pkg.ranking.v1.RankingService.service;
    const rankDef = service.Rank as grpc.MethodDefinition<unknown, unknown>;
    this.grpcServer.addService({ ...service, Rank: { ...rankDef, responseSerialize: rankResponseSerializer(rankDef.responseSerialize) } }, {
      Rank: this.unary('Rank', (req, call, requestId) => this.rank(req, call, requestId)),
      RecordEvents: this.unary('RecordEvents', (req) => this.recordEvents(req)),
      UpsertItems: this.unary('UpsertItems', (req, call) => this.upsertItems(req, call)),
      DeleteItems: this.unary('DeleteItems', (req, call) => this.deleteItems(req, call)),
      ReloadBundle: this.unary('ReloadBundle', (req, call) => this.reloadBundle(req, call)),
    });
    this.health.addToServer(this.grpcServer);
    new ReflectionService(described).addToServer(this.grpcServer);
    this.json = createJsonCodec(def, SERVICE_NAME);
    const { host, grpcPort } = this.opts;
    this.grpcPort = await new Promise<number>((resolve, reject) =>
      this.grpcServer.bindAsync(`${host}:${grpcPort}`, this.opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.http = await startHttpServer({
      port: this.opts.httpPort,
      host,
      metrics: this.opts.metrics,
      health: () => this.engine !== null && !this.draining,
      rank: (body, requestId, call) => gatewayCall(this.json, 'Rank', body, call, (req) => this.rankOnce(req, requestId, Infinity)),
      recordEvents: (body, _requestId, call) => gatewayCall(this.json, 'RecordEvents', body, call, (req) => this.recordEvents(req)),
    });
    this.httpPort = this.http.port;
  }

  /**
   * Catalog changes go through `stream` (instead of the catalog log), applied
   * here in stream order; call before restoreCatalog(), which then reads it.
   */
  shareCatalog(stream: RedisCatalogStream): void {
    const { metrics, logger } = this.opts;
    this.shared = new SharedCatalog({ stream, changes: this.catalogChanges, current: () => this.engine, metrics, logger });
  }

  /** The engine being served, if any. */
  current(): Engine | null {
    return this.engine;
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

  /** Request type names by method path ("/ranking.v1.RankingService/Rank" -> "ranking.v1.RankRequest"), of every service. */
  private readonly requestTypes = new Map<string, string>();
  /** The method paths of RankingService. */
  private readonly rankingPaths = new Set<string>();

  /**
   * Counts a RankingService call that ended before its handler ran (its
   * request did not decompress, was too large, ...): the unary wrapper counts
   * all the others.
   */
  private observeEarly(methodPath: string, code: grpc.status, secs: number): void {
    if (!this.rankingPaths.has(methodPath)) return;
    this.opts.metrics.observeRequest(methodPath.slice(methodPath.lastIndexOf('/') + 1), code, secs);
  }

  private ready(): Engine {
    if (this.draining) throw new ServiceError('SHUTTING_DOWN', 'the server is shutting down');
    if (!this.engine) throw new ServiceError('NOT_READY', 'the engine is still loading its bundle');
    return this.engine;
  }

  private unary(method: string, fn: UnaryFn): grpc.handleUnaryCall<unknown, unknown> {
    return unaryCall(method, fn, this.opts.metrics, this.opts.logger);
  }

  private async rank(req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>, requestId: string): Promise<object> {
    const d = call.getDeadline();
    const deadline = d instanceof Date ? d.getTime() : Number.isFinite(d) ? Number(d) : Infinity;
    // The cancellation signal is made only for an admitted call.
    return this.rankOnce(req, requestId, deadline, () => {
      const ac = new AbortController();
      call.on('cancelled', () => ac.abort(new ServiceError('CANCELLED', 'the client cancelled the call')));
      return ac.signal;
    });
  }

  private async rankOnce(req: unknown, requestId: string, grpcDeadline: number, cancellation?: () => AbortSignal): Promise<object> {
    const engine = this.ready();
    const budget = Number((req as { latency_budget_ms?: unknown })?.latency_budget_ms ?? 0);
    const deadline = Math.min(grpcDeadline, budget > 0 ? Date.now() + budget : Infinity);
    // Admission, before the request is validated or anything is allocated for
    // it, so refusing costs little next to serving: past the concurrency
    // limit (a memory bound), or when the engine predicts the call cannot get
    // a cascade slot in time for its deadline (or within the queue wait
    // limit), it is refused at once with RESOURCE_EXHAUSTED and a retry-after.
    this.calls.enter();
    try {
      const refused = engine.admissionRefusal(deadline);
      if (refused) throw refused;
      return await this.rankWith(engine, req, requestId, deadline, cancellation?.());
    } finally {
      this.calls.leave();
    }
  }

  private async rankWith(engine: Engine, req: unknown, requestId: string, deadline: number, signal?: AbortSignal): Promise<object> {
    // Validation first: a malformed request is INVALID_ARGUMENT whatever its budget.
    const ctx = { bundle: engine.bundle, catalog: engine.catalog, now: engine.now(), requestId, deadline, limits: this.limits, defaults: this.defaults, profiles: this.profiles };
    let v = toRankInput(req, ctx);
    if (Date.now() >= deadline) throw new ServiceError('DEADLINE', 'the deadline passed before the request was started');
    const caught = this.shared ? await this.shared.barrier(deadline) : null;
    // Catalog changes applied while waiting: the request's item ids are resolved again.
    if (caught?.waited) v = toRankInput(req, ctx);
    const { input, unknownCandidates, served } = v;
    input.signal = signal;
    input.log = this.opts.impressions?.sampled() ?? false;
    const out = await engine.rank(input);
    const lag = caught?.degradation;
    if (lag) {
      out.degraded = true;
      out.degradations.push(lag);
      this.opts.metrics.degraded.inc({ reason: lag });
    }
    const profile = { profile: served?.profile.name ?? '', experiment: served?.experiment, bucket: served?.bucket };
    if (input.log) void this.opts.impressions!.record(input, out, engine, profile);
    return new RankResponse(out, engine.catalog, engine.bundle.manifest.objectives, unknownCandidates, requestId, profile);
  }

  private async recordEvents(req: unknown): Promise<object> {
    let engine = this.ready();
    let events = toEvents(req, engine.catalog, engine.now(), this.limits);
    const logged: LoggedEvent[] = events.map((e) => ({ userId: e.userId, itemId: engine.catalog.ids[e.row], action: e.action, ts: e.ts }));
    const log = this.opts.eventLog;
    if (log) {
      try {
        await log.append(logged);
      } catch (err) {
        if (err instanceof EventLogFullError || err instanceof EventLogClosedError) throw err;
        throw new ServiceError('EVENT_LOG', `events were not recorded: the event log write failed (${err instanceof Error ? err.message : String(err)})`, 100);
      }
      // The bundle (on reload) or the catalog may have changed during the
      // write: apply to the engine serving now, by item id. An item deleted
      // meanwhile drops its event here, as it would on replay.
      engine = this.engine ?? engine;
      events = toRows(engine.catalog, logged);
    }
    let accepted: number;
    try {
      accepted = await engine.recordEvents(events);
    } catch (err) {
      // The events are valid (checked above): a failure here is the user store's (Redis unreachable).
      throw new ServiceError('USER_STORE', `events were not recorded: the user store write failed (${err instanceof Error ? err.message : String(err)})`, 500);
    }
    this.journal.remember(logged);
    return { accepted };
  }

  /**
   * Applies events read back from the event log to `engine` (before it
   * serves) and keeps them in the journal for later reloads. Events of items
   * the bundle does not have are skipped. Returns the events applied.
   */
  async restoreEvents(engine: Engine, events: readonly LoggedEvent[]): Promise<number> {
    let applied = 0;
    const CHUNK = 10_000;
    for (let i = 0; i < events.length; i += CHUNK) applied += await engine.recordEvents(toRows(engine.catalog, events.slice(i, i + CHUNK)));
    this.journal.remember(events);
    this.opts.metrics.eventsReplayed.inc(applied);
    return applied;
  }

  private authorize = (call: grpc.ServerUnaryCall<unknown, unknown>, method: string): void => authorizeAdmin(call, method, this.opts.admin ?? 'open', this.opts.adminClientNames ?? []);

  private async upsertItems(req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<object> {
    this.authorize(call, 'UpsertItems');
    const engine = this.ready();
    const items = toItems(req, engine.catalog.dim, engine.now(), this.limits);
    return this.shared ? this.shared.upsert(engine, items) : this.catalogChanges.upsert(engine, items, () => this.engine ?? engine);
  }

  private async deleteItems(req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<object> {
    this.authorize(call, 'DeleteItems');
    const engine = this.ready();
    const ids = toIds(req, this.limits);
    const r = await (this.shared ? this.shared.delete(engine, ids) : this.catalogChanges.delete(engine, ids, () => this.engine ?? engine));
    return { deleted: r.deleted, unknown_item_ids: r.unknown };
  }

  private async reloadBundle(req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<object> {
    this.authorize(call, 'ReloadBundle');
    const rel = (req as { path?: unknown })?.path;
    if (typeof rel !== 'string' || rel.length === 0) throw invalid('path', 'must name a bundle directory under the bundle root');
    return this.reload(rel);
  }

  /**
   * Startup: re-applies the catalog changes read back from the catalog log
   * (oldest first), or every change in the catalog stream, to `engine`
   * before it serves, except those its bundle supersedes, and keeps them for
   * later reloads.
   */
  restoreCatalog(engine: Engine, changes: readonly CatalogChange[]): Promise<ReplayStats> {
    return this.shared ? this.shared.catchUp(engine) : this.catalogChanges.restore(engine, changes);
  }

  /** Loads the bundle at `rel` (under the bundle root) and swaps it in, blue-green (reload.ts). */
  reload(rel: string): Promise<ReloadResult> {
    return this.reloader.reload(rel);
  }
}
