// Starts the ranking engine: gRPC on 50051 and HTTP (/metrics, /healthz,
// POST /v1/rank, POST /v1/events) on 8080 by default, serving --bundle DIR
// (tools/serve-demo.ts runs it on the demo world). SIGTERM/SIGINT drain and
// exit 0.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';

import { loadBundle } from './bundle/loader';
import { RankingClient } from './client';
import { Engine } from './pipeline/engine';
import { ENGINE_DEFAULTS } from './pipeline/options';
import { isPrecisionSetting } from './native/dcn-precision';
import { loadConfig, usage } from './api/config';
import { EventLog, LoggedEvent } from './state/event-log';
import { RedisUserStore } from './state/redis-user-store';
import { RedisCatalogStream } from './catalog/redis-catalog-stream';
import { ImpressionRecorder } from './api/impressions';
import { openImpressionLog } from './state/impression-log';
import type { UserStore } from './state/user-store';
import { CatalogChange, CatalogLog, openCatalogLog } from './catalog/catalog-log';
import { createMetrics, Metrics } from './metrics/metrics';
import { createLogger } from './api/logger';
import { RankingService } from './api/service';
import { ProfileSet } from './api/profiles';
import { DEFAULT_RANK } from './pipeline/options';
import { CASCADE_STAGES } from './stages';


async function sampleRanking(port: number, userId: string, log: pino.Logger): Promise<void> {
  const client = new RankingClient(`127.0.0.1:${port}`);
  const res = await client.rank({ user_id: userId, context: { surface: 'SURFACE_HOME', device: 'DEVICE_MOBILE' }, num_results: 10, debug: true }).finally(() => client.close());
  const { items, stages } = res;
  log.info({ userId }, 'sample ranking through the gRPC API');
  console.log(`\nRank(user_id="${userId}", surface=home, device=mobile, num_results=10) -> bundle ${res.bundle_version}`);
  console.log(stages.map((s) => `  ${s.stage.padEnd(15)} ${s.millis.toFixed(2).padStart(7)} ms  ${s.candidates_in} -> ${s.candidates_out}`).join('\n'));
  console.log('\n  #  item          score   category     brand        source');
  items.forEach((it, i) =>
    console.log(
      `${String(i + 1).padStart(3)}  ${it.item_id}  ${it.score.toFixed(3)}   ${it.category.padEnd(11)}  ${it.brand.padEnd(11)}  ${it.provenance.replace('PROVENANCE_', '').toLowerCase()}${it.exploration ? ' (exploration)' : ''}${it.strong_scored ? ' (strong)' : ''}`,
    ),
  );
  console.log(`\ntry: npm run call -- ${port === 50051 ? '' : `--address localhost:${port} `}Rank '{"user_id":"${userId}","num_results":5}'\n`);
}

/** A bundle to serve when the configuration names none (the demo world's, from tools/serve-demo.ts). */
export interface DefaultBundle {
  bundle: string;
  /** Events to seed user state from. */
  events: string;
  /** Makes sure the bundle is on disk (called after the servers listen, NOT_SERVING meanwhile). */
  ensure(log: pino.Logger): Promise<void>;
}

type Config = ReturnType<typeof loadConfig>;

/** Builds and warms an engine for a bundle directory (start-up and ReloadBundle). */
function engineLoader(cfg: Config, clock: Config['clock'], events: string, metrics: Metrics, store: () => UserStore | undefined, log: pino.Logger): (dir: string) => Promise<Engine> {
  return async (dir) => {
    const bundle = await loadBundle(dir, { progress: process.stderr.isTTY });
    return Engine.create(bundle, {
      ...ENGINE_DEFAULTS,
      store: store(),
      threads: cfg.threads,
      maxQueueWaitMs: cfg.maxQueueWaitMs > 0 ? cfg.maxQueueWaitMs : undefined,
      maxActiveRanks: cfg.maxActiveRanks > 0 ? cfg.maxActiveRanks : undefined,
      maxQueuedRows: cfg.maxQueuedRows,
      catalogHeadroom: cfg.catalogHeadroom,
      userEmbeddingCache: { maxEntries: cfg.userEmbeddingCache },
      rankerPrecision: isPrecisionSetting(cfg.rankerPrecision) ? cfg.rankerPrecision : undefined,
      clock,
      seedEvents: events || undefined,
      metrics,
      onSharedStatsError: (err) => log.warn({ err: err.message }, 'refresh of the new items\' shared click counts failed; exploration uses the last ones'),
    });
  };
}

/** The URL without its password, for logs. */
const redacted = (url: string) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');

/**
 * A Redis client (`what`: the user store, the catalog stream), connected:
 * while Redis cannot be reached the service stays NOT_SERVING, retrying with
 * backoff and saying so.
 */
async function connectRedis<T>(what: string, url: string, connect: () => Promise<T>, log: pino.Logger): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const client = await connect();
      log.info({ [what]: redacted(url) }, `${what} connected`);
      return client;
    } catch (err) {
      const retryMs = Math.min(250 * 2 ** attempt, 5000);
      log.error({ [what]: redacted(url), err: err instanceof Error ? err.message : String(err), retryMs }, `${what} unreachable: NOT_SERVING until it answers`);
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}

/** The durable event log (--event-log), with the events it holds. */
async function openEvents(cfg: Config, metrics: Metrics, log: pino.Logger): Promise<{ eventLog?: EventLog; recovered: LoggedEvent[] }> {
  if (!cfg.eventLog) return { recovered: [] };
  const t = Date.now();
  const opened = await EventLog.open({
    dir: path.resolve(cfg.eventLog),
    maxEvents: Math.max(1, cfg.maxJournal),
    sync: cfg.eventLogSync,
    onWrite: (seconds, n) => {
      metrics.eventLogWrite.observe(seconds);
      metrics.eventLogEvents.inc(n);
    },
    onError: (err) => log.error({ err }, 'event log segment rotation failed; appending to the current segment'),
  });
  const { skippedLines, truncatedBytes, segments, events } = opened.recovered;
  log.info({ dir: cfg.eventLog, events: events.length, segments, skippedLines, truncatedBytes, sync: cfg.eventLogSync, ms: Date.now() - t }, 'event log opened');
  if (skippedLines > 0 || truncatedBytes > 0) log.warn({ skippedLines, truncatedBytes }, 'event log: skipped unreadable lines / cut a torn last line');
  return { eventLog: opened.log, recovered: events };
}

/** The durable catalog-change log (--catalog-log), with the changes it holds. */
async function openCatalogChanges(cfg: Config, log: pino.Logger): Promise<{ catalogLog?: CatalogLog; changes: CatalogChange[] }> {
  if (!cfg.catalogLog) return { changes: [] };
  const t = Date.now();
  const opened = await openCatalogLog({ dir: path.resolve(cfg.catalogLog), sync: cfg.catalogLogSync });
  const { skippedLines, truncatedBytes, records } = opened.recovered;
  log.info({ dir: cfg.catalogLog, changes: records.length, skippedLines, truncatedBytes, sync: cfg.catalogLogSync, ms: Date.now() - t }, 'catalog log opened');
  if (skippedLines > 0 || truncatedBytes > 0) log.warn({ skippedLines, truncatedBytes }, 'catalog log: skipped unreadable lines / cut a torn last line');
  return { catalogLog: opened.journal, changes: records };
}

/** The served-impression log (--impression-log) and its sampled recorder. */
async function openImpressions(cfg: Config, metrics: Metrics, log: pino.Logger): Promise<ImpressionRecorder | undefined> {
  if (!cfg.impressionLog) return undefined;
  const journal = await openImpressionLog({ dir: path.resolve(cfg.impressionLog), onError: (err) => log.error({ err }, 'impression log segment rotation failed; appending to the current segment') });
  log.info({ dir: cfg.impressionLog, sample: cfg.impressionLogSample }, 'impression log opened');
  return new ImpressionRecorder(journal, cfg.impressionLogSample, metrics, log);
}

/** TLS / mutual TLS credentials (--tls-cert, --tls-key, --tls-ca), or none. */
function credentials(cfg: Config): grpc.ServerCredentials | undefined {
  if (!(cfg.tlsCert && cfg.tlsKey)) return undefined;
  const ca = cfg.tlsCa ? readFileSync(cfg.tlsCa) : null;
  return grpc.ServerCredentials.createSsl(ca, [{ private_key: readFileSync(cfg.tlsKey), cert_chain: readFileSync(cfg.tlsCert) }], Boolean(cfg.tlsCa));
}

/** SIGHUP reloads the bundle directory (blue-green); SIGTERM and SIGINT drain and exit 0. */
function onSignals(service: RankingService, root: string, bundleDir: string, closeLogs: () => Promise<void>, log: pino.Logger): void {
  process.on('SIGHUP', () => {
    service.reload(path.relative(root, path.resolve(bundleDir)) || '.').then(
      (r) => log.info(r, 'reloaded on SIGHUP'),
      (err: unknown) => log.error({ err }, 'reload on SIGHUP failed; the old bundle keeps serving'),
    );
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    await service.stop();
    await closeLogs();
    await service.current()?.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/**
 * Runs the server: configuration (argv, environment, config file) to parts to
 * servers. Without --bundle it serves `defaultBundle`'s (on the bundle's
 * clock), and without that it stops with a usage error.
 */
export async function main(argv: string[] = process.argv.slice(2), defaultBundle?: DefaultBundle): Promise<void> {
  if (argv.some((a) => a === '--help' || a === '-h')) {
    console.log(usage());
    return;
  }
  const cfg = loadConfig(argv);
  if (!cfg.bundle && !defaultBundle) throw new Error('--bundle DIR is required (npm start serves the demo world: node dist/tools/serve-demo.js)');
  const log = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  const metrics = createMetrics();
  const useDefault = !cfg.bundle && defaultBundle !== undefined;
  const bundleDir = cfg.bundle || defaultBundle!.bundle;
  // The default (demo) bundle's "now" is its reference time.
  let userStore: UserStore | undefined;
  const loadEngine = engineLoader(cfg, useDefault ? 'bundle' : cfg.clock, cfg.events || (useDefault ? defaultBundle!.events : ''), metrics, () => userStore, log);
  const { eventLog, recovered } = await openEvents(cfg, metrics, log);
  const { catalogLog, changes } = await openCatalogChanges(cfg, log);
  const profiles = cfg.profiles ? await ProfileSet.load(path.resolve(cfg.profiles), { base: DEFAULT_RANK, stages: CASCADE_STAGES }) : undefined;
  if (profiles) log.info({ file: cfg.profiles, profiles: [...profiles.profiles.keys()], experiments: profiles.experiments.map((e) => e.name) }, 'rank profiles loaded');
  const root = cfg.bundleRoot || path.dirname(path.resolve(bundleDir));
  const impressions = await openImpressions(cfg, metrics, log);
  const service = new RankingService({
    profiles,
    host: cfg.host,
    grpcPort: cfg.grpcPort,
    httpPort: cfg.httpPort,
    maxConcurrentRanks: cfg.maxConcurrentRanks,
    limits: { maxClockSkewMs: cfg.maxClockSkewMs },
    admin: cfg.adminToken ? { token: cfg.adminToken } : 'disabled',
    adminClientNames: cfg.adminClientNames,
    bundleRoot: root,
    loadEngine,
    maxJournal: cfg.maxJournal,
    eventLog,
    catalogLog,
    impressions,
    onCatalogLogError: (err) => log.error({ err }, 'catalog log compaction failed; the log keeps its longer content'),
    credentials: credentials(cfg),
    metrics,
    logger: log,
  });
  await service.start();
  const tls = Boolean(cfg.tlsCert && cfg.tlsKey);
  log.info({ grpcPort: service.grpcPort, httpPort: service.httpPort, tls, mtls: tls && Boolean(cfg.tlsCa) }, 'listening (NOT_SERVING until the bundle is loaded)');

  if (useDefault) await defaultBundle!.ensure(log);
  if (cfg.userStore) userStore = await connectRedis('user store', cfg.userStore, () => RedisUserStore.connect({ url: cfg.userStore, cluster: cfg.userStoreCluster }), log);
  const stream = cfg.catalogStream ? await connectRedis('catalog stream', cfg.catalogStream, () => RedisCatalogStream.connect({ url: cfg.catalogStream, cluster: cfg.catalogStreamCluster }), log) : undefined;
  if (stream) service.shareCatalog(stream);
  const t0 = Date.now();
  const engine = await loadEngine(bundleDir);
  if (stream) log.info(await service.restoreCatalog(engine, []), 'catalog changes re-applied from the catalog stream');
  else if (changes.length > 0) log.info({ read: changes.length, ...(await service.restoreCatalog(engine, changes)) }, 'catalog changes re-applied from the catalog log');
  if (recovered.length > 0) log.info({ read: recovered.length, applied: await service.restoreEvents(engine, recovered) }, 'recorded events restored from the event log');
  service.setEngine(engine);
  const probeUs = Object.fromEntries(Object.entries(engine.pool.probes).map(([m, p]) => [m, p.medianUs]));
  log.info({ bundle: engine.bundle.manifest.name, version: engine.version, items: engine.catalog.itemCount, precision: engine.pool.precision, precisionProbeUs: probeUs, ms: Date.now() - t0 }, 'SERVING');
  onSignals(service, root, bundleDir, async () => {
    await eventLog?.close();
    await catalogLog?.close();
    await stream?.close();
    await impressions?.close();
    await userStore?.close?.();
  }, log);
  if (cfg.sample) await sampleRanking(service.grpcPort, 'user-000005', log);
}

/** Runs main() as the process's entry: a start-up failure prints and exits 1. */
export function runMain(defaultBundle?: DefaultBundle, argv?: string[]): void {
  main(argv, defaultBundle).catch((err) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  });
}

if (require.main === module) runMain();
