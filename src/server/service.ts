// The ranking service: gRPC (RankingService, grpc.health.v1, reflection) and
// the HTTP side (/metrics, /healthz, JSON POST /v1/rank with the same
// semantics as Rank). The engine may still be loading when the servers start:
// health says NOT_SERVING and calls get UNAVAILABLE until setEngine().
import * as path from 'node:path';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
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
import { invalid, ServiceError, toStatus } from './errors';
import { EventLog, EventLogClosedError, EventLogFullError, LoggedEvent } from './event-log';
import { DEFAULT_LIMITS, DEFAULT_RANK, Limits, RankDefaults, toEvents, toIds, toItems, toRankInput } from './validate';

export const SERVICE_NAME = 'ranking.v1.RankingService';
/** Default of ServiceOptions.maxConcurrentRanks. */
export const DEFAULT_MAX_CONCURRENT_RANKS = 4096;
const PROTO = path.join(__dirname, '..', '..', '..', 'proto', 'ranking', 'v1', 'ranking.proto');
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export interface ServiceOptions {
  host: string;
  grpcPort: number;
  httpPort: number;
  limits?: Partial<Limits>;
  defaults?: Partial<RankDefaults>;
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
  admin?: { token: string } | 'open' | 'disabled';
  /**
   * Client certificate identities (subject CN or SAN DNS name, exact match)
   * that may make admin calls without a token. Only certificates the TLS
   * layer verified against the server's client CA (mutual TLS) count.
   * See authorize() for the full rule.
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
  /** Server credentials (TLS / mutual TLS); insecure when absent. */
  credentials?: grpc.ServerCredentials;
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
  private reloading = false;
  /** Events accepted since start (and restored from the event log), by item id, replayed into a reloaded bundle. */
  private journal: LoggedEvent[] = [];

  private get journalMax(): number {
    return this.opts.maxJournal ?? 2_000_000;
  }
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
      UpsertItems: this.unary('UpsertItems', (req, call) => this.upsertItems(req, call)),
      DeleteItems: this.unary('DeleteItems', (req, call) => this.deleteItems(req, call)),
      ReloadBundle: this.unary('ReloadBundle', (req, call) => this.reloadBundle(req, call)),
    });
    this.health.addToServer(this.grpcServer);
    new ReflectionService(def).addToServer(this.grpcServer);
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
      rank: (body, requestId) => this.httpRank(body, requestId),
    });
    this.httpPort = this.http.port;
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
      // The child logger is made only when a line is written: pino serializes
      // its bindings when the child is created, a cost on every call otherwise.
      const log = () => this.opts.logger.child({ method, requestId });
      const debug = this.opts.logger.isLevelEnabled('debug');
      fn(call.request, call, requestId).then(
        (res) => {
          const secs = Number(process.hrtime.bigint() - t0) / 1e9;
          this.opts.metrics.observeRequest(method, grpc.status.OK, secs);
          if (debug) log().debug({ code: 'OK', ms: secs * 1000 }, 'call');
          callback(null, res);
        },
        (err: unknown) => {
          const s = toStatus(err);
          const secs = Number(process.hrtime.bigint() - t0) / 1e9;
          this.opts.metrics.observeRequest(method, s.code, secs);
          if (s.code === grpc.status.INTERNAL) log().error({ err }, 'internal error');
          else if (debug) log().debug({ code: grpc.status[s.code], ms: secs * 1000, details: s.details }, 'call');
          callback({ code: s.code, details: s.details, metadata: s.metadata });
        },
      );
    };
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
    const limit = this.opts.maxConcurrentRanks ?? DEFAULT_MAX_CONCURRENT_RANKS;
    if (this.ranking >= limit) throw new ServiceError('OVERLOADED', `${this.ranking} Rank calls in progress (limit ${limit}); retry later`, 20);
    const refused = engine.admissionRefusal(deadline);
    if (refused) throw refused;
    this.ranking++;
    try {
      return await this.rankWith(engine, req, requestId, deadline, cancellation?.());
    } finally {
      this.ranking--;
    }
  }

  private async rankWith(engine: Engine, req: unknown, requestId: string, deadline: number, signal?: AbortSignal): Promise<object> {
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
      events = [];
      for (const e of logged) {
        const row = engine.catalog.rowOf.get(e.itemId);
        if (row !== undefined) events.push({ userId: e.userId, row, action: e.action, ts: e.ts });
      }
    }
    const accepted = engine.recordEvents(events);
    this.remember(logged);
    return { accepted };
  }

  /** Appends to the in-memory journal, trimming it to maxJournal. */
  private remember(events: readonly LoggedEvent[]): void {
    const max = this.journalMax;
    for (const e of events) this.journal.push(e);
    // Trimmed in chunks (at max + max/8), so the copy is amortised over many
    // calls instead of costing a full copy on every call once the journal is full.
    if (this.journal.length > max + Math.max(1, max >> 3)) this.journal = this.journal.slice(this.journal.length - max);
  }

  /**
   * Applies events read back from the event log to `engine` (before it
   * serves) and keeps them in the journal for later reloads. Events of items
   * the bundle does not have are skipped. Returns the events applied.
   */
  restoreEvents(engine: Engine, events: readonly LoggedEvent[]): number {
    let applied = 0;
    const CHUNK = 10_000;
    for (let i = 0; i < events.length; i += CHUNK) {
      const batch = [];
      for (const e of events.slice(i, i + CHUNK)) {
        const row = engine.catalog.rowOf.get(e.itemId);
        if (row !== undefined) batch.push({ userId: e.userId, row, action: e.action, ts: e.ts });
      }
      applied += engine.recordEvents(batch);
    }
    this.remember(events);
    this.opts.metrics.eventsReplayed.inc(applied);
    return applied;
  }

  /**
   * Admin call authorisation, in this order:
   * 1. admin 'open': allowed.
   * 2. The client presented a certificate verified against the mutual-TLS CA
   *    whose subject CN or one of whose SAN DNS names is in adminClientNames:
   *    allowed, no token needed.
   * 3. An "authorization" header: allowed when it is "Bearer <admin token>",
   *    else PERMISSION_DENIED (also when no token is configured).
   * 4. No header, but a verified certificate while adminClientNames is set:
   *    PERMISSION_DENIED (the identity is known and not an admin).
   * 5. No header and admin calls are off (no token, no client names):
   *    PERMISSION_DENIED; otherwise UNAUTHENTICATED.
   */
  private authorize(call: grpc.ServerUnaryCall<unknown, unknown>, method: string): void {
    const admin = this.opts.admin ?? 'open';
    if (admin === 'open') return;
    const names = this.opts.adminClientNames ?? [];
    const peer = names.length > 0 ? RankingService.certificateNames(call) : null;
    if (peer && peer.some((n) => names.includes(n))) return;
    const header = call.metadata.get('authorization')[0];
    if (typeof header === 'string' && header.length > 0) {
      if (admin === 'disabled') throw new ServiceError('FORBIDDEN', `${method}: admin tokens are not accepted by this server (no --admin-token configured)`);
      const m = /^Bearer (.+)$/.exec(header);
      const given = Buffer.from(m ? m[1] : '');
      const want = Buffer.from(admin.token);
      if (given.length !== want.length || !timingSafeEqual(given, want)) throw new ServiceError('FORBIDDEN', `${method}: the admin token is not valid`);
      return;
    }
    if (peer) throw new ServiceError('FORBIDDEN', `${method}: client certificate ${JSON.stringify(peer[0] ?? '')} is not an admin identity (--admin-client-names)`);
    if (admin === 'disabled' && names.length === 0) {
      throw new ServiceError('FORBIDDEN', `${method} is an admin call and admin calls are disabled (start the server with --admin-token or --admin-client-names)`);
    }
    throw new ServiceError('UNAUTHENTICATED', `${method} needs "authorization: Bearer <admin token>"${names.length > 0 ? ' or an admin client certificate' : ''}`);
  }

  /**
   * The identities of the call's client certificate (subject CNs, then SAN
   * DNS names), or null when the client presented none that the TLS layer
   * verified (grpc-js reports a peer certificate only for an authorized TLS
   * socket).
   */
  private static certificateNames(call: grpc.ServerUnaryCall<unknown, unknown>): string[] | null {
    const cert = call.getAuthContext?.()?.sslPeerCertificate;
    if (!cert) return null;
    const cn = cert.subject?.CN as string | string[] | undefined;
    const names = cn === undefined ? [] : Array.isArray(cn) ? [...cn] : [cn];
    // "DNS:a.example, IP Address:10.0.0.1, DNS:\"b, c\"": values with special
    // characters are JSON-quoted (Node >= 17).
    for (const m of (cert.subjectaltname ?? '').matchAll(/(?:^|, )DNS:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
      try {
        names.push(m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1]);
      } catch {
        // an unparsable entry names nobody
      }
    }
    return names;
  }

  private async upsertItems(req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<object> {
    this.authorize(call, 'UpsertItems');
    const engine = this.ready();
    return engine.upsertItems(toItems(req, engine.catalog.dim, engine.now(), this.limits));
  }

  private async deleteItems(req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<object> {
    this.authorize(call, 'DeleteItems');
    const engine = this.ready();
    const r = await engine.deleteItems(toIds(req, this.limits));
    return { deleted: r.deleted, unknown_item_ids: r.unknown };
  }

  private async reloadBundle(req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<object> {
    this.authorize(call, 'ReloadBundle');
    const rel = (req as { path?: unknown })?.path;
    if (typeof rel !== 'string' || rel.length === 0) throw invalid('path', 'must name a bundle directory under the bundle root');
    return this.reload(rel);
  }

  /**
   * Loads the bundle at `rel` (inside the bundle root) beside the serving one,
   * replays the recorded events into it, swaps, and closes the old engine
   * once its in-flight calls have finished. A broken bundle leaves the old
   * one serving.
   */
  async reload(rel: string): Promise<{ bundle_version: string; items: number; load_millis: number; replayed_events: number }> {
    const root = this.opts.bundleRoot;
    const load = this.opts.loadEngine;
    if (!root || !load) throw new ServiceError('FORBIDDEN', 'ReloadBundle is not configured on this server (no bundle root)');
    const realRoot = await fs.realpath(root);
    let dir: string;
    try {
      dir = await fs.realpath(path.resolve(realRoot, rel));
    } catch {
      throw invalid('path', `"${rel}" does not exist under the bundle root`);
    }
    if (dir !== realRoot && !dir.startsWith(realRoot + path.sep)) throw invalid('path', `"${rel}" is outside the bundle root`);
    if (this.reloading) throw new ServiceError('BUSY', 'a reload is already running');
    this.reloading = true;
    const t0 = Date.now();
    try {
      const next = await load(dir);
      const recent = this.journal.length > this.journalMax ? this.journal.slice(this.journal.length - this.journalMax) : this.journal;
      const events = recent
        .map((e) => ({ userId: e.userId, row: next.catalog.rowOf.get(e.itemId) ?? -1, action: e.action, ts: e.ts }))
        .filter((e) => e.row >= 0);
      if (events.length > 0) next.recordEvents(events);
      const old = this.engine;
      this.setEngine(next);
      this.opts.logger.info({ version: next.version, items: next.catalog.itemCount, replayed: events.length, ms: Date.now() - t0 }, 'bundle swapped');
      if (old) void this.retire(old);
      return { bundle_version: next.version, items: next.catalog.itemCount, load_millis: Date.now() - t0, replayed_events: events.length };
    } finally {
      this.reloading = false;
    }
  }

  /** Closes a replaced engine once its in-flight calls are done (at most 60 s). */
  private async retire(old: Engine): Promise<void> {
    const until = Date.now() + 60_000;
    while (old.inflight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await old.close();
  }
}
