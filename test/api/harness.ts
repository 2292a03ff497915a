// End-to-end harness for the ranking service: a small demo world generated
// once into a temp directory, the real Engine on it, a RankingService on
// 127.0.0.1 (ephemeral gRPC and HTTP ports) with the project's typed client
// (src/client), and promise helpers for grpc.health.v1 and server reflection.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { request } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthServiceDef } from 'grpc-health-check';
import pino from 'pino';

import { Bundle, loadBundle } from '../../src/bundle/loader';
import { RankingCallOptions, RankingClient } from '../../src/client';
import { Engine } from '../../src/pipeline/engine';
import { EngineOptions } from '../../src/pipeline/options';
import { createMetrics, Metrics } from '../../src/metrics/metrics';
import { RankingService, ServiceOptions } from '../../src/api/service';
import { generateWorld, WorldPaths, worldPaths } from '../../tools/world/generate';
import { DAY_MS, DEFAULT_WORLD, WorldConfig } from '../../tools/world/schema';

// ---------------------------------------------------------------- calls, health and reflection

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

type MethodDefs = Record<string, grpc.MethodDefinition<object, object>>;

function unaryCall<Res>(
  client: grpc.Client,
  def: grpc.MethodDefinition<object, object>,
  req: object,
  opts: grpc.CallOptions,
  metadata: grpc.Metadata = new grpc.Metadata(),
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, metadata, opts, (err, res) =>
      err ? reject(err) : resolve(res as Res),
    );
  });
}

/** Call options carrying "authorization: Bearer <token>" for admin calls (no header without a token). */
export function bearer(token?: string): RankingCallOptions {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return { metadata };
}

/** grpc.health.v1.Health/Check through a raw client (the definition grpc-health-check serves). */
export async function healthCheck(address: string, serviceName: string): Promise<ServingStatus> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    const def = (healthServiceDef as unknown as MethodDefs).Check;
    const res = await unaryCall<{ status: ServingStatus }>(client, def, { service: serviceName }, { deadline: Date.now() + 10_000 });
    return res.status;
  } finally {
    client.close();
  }
}

const REFLECTION_PROTO = path.join(path.dirname(require.resolve('@grpc/reflection')), '..', 'proto', 'grpc', 'reflection');

export interface ReflectionReply {
  list_services_response?: { service?: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto?: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

/** One request over server reflection's ServerReflectionInfo stream (v1 or v1alpha), and its answer. */
export function reflectionRequest(address: string, request: object, version: 'v1' | 'v1alpha' = 'v1'): Promise<ReflectionReply> {
  const def = protoLoader.loadSync(path.join(REFLECTION_PROTO, version, 'reflection.proto'), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const svc = def[`grpc.reflection.${version}.ServerReflection`] as unknown as MethodDefs;
  const info = svc.ServerReflectionInfo;
  assert.ok(info, 'reflection proto without ServerReflectionInfo');
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<ReflectionReply>((resolve, reject) => {
    const call = client.makeBidiStreamRequest(info.path, info.requestSerialize, info.responseDeserialize, new grpc.Metadata(), {
      deadline: Date.now() + 10_000,
    });
    let done = false;
    const finish = (err: Error | null, reply?: ReflectionReply) => {
      if (done) return;
      done = true;
      call.cancel();
      client.close();
      if (err) reject(err);
      else resolve(reply ?? {});
    };
    call.on('data', (msg: ReflectionReply) => finish(null, msg));
    call.on('error', (err: Error) => finish(err));
    call.on('end', () => finish(new Error('reflection stream ended without an answer')));
    call.write({ host: '', ...request });
  });
}

/**
 * The service names listed by server reflection (list_services over the
 * bidirectional ServerReflectionInfo stream), v1 or v1alpha.
 */
export async function reflectionListServices(address: string, version: 'v1' | 'v1alpha' = 'v1'): Promise<string[]> {
  const msg = await reflectionRequest(address, { list_services: '*' }, version);
  if (msg.error_response) throw new Error(`reflection error: ${msg.error_response.error_message}`);
  return (msg.list_services_response?.service ?? []).map((s) => s.name);
}

/**
 * The names of the file descriptors server reflection answers for a symbol
 * (file_containing_symbol): the file that defines it first, then its
 * dependencies. Rejects with the reflection error ("Symbol not found: ...").
 */
export async function reflectionFilesOfSymbol(address: string, symbol: string, version: 'v1' | 'v1alpha' = 'v1'): Promise<string[]> {
  const msg = await reflectionRequest(address, { file_containing_symbol: symbol }, version);
  if (msg.error_response) throw new Error(`reflection error: ${msg.error_response.error_message}`);
  const fileType = descriptorProto()['google.protobuf.FileDescriptorProto'] as protoLoader.MessageTypeDefinition<object, object>;
  return (msg.file_descriptor_response?.file_descriptor_proto ?? []).map((b) => (fileType.deserialize(b) as { name: string }).name);
}

let descriptorDef: protoLoader.PackageDefinition | undefined;
function descriptorProto(): protoLoader.PackageDefinition {
  descriptorDef ??= protoLoader.loadSync('google/protobuf/descriptor.proto', { keepCase: true, longs: Number, enums: String });
  return descriptorDef;
}

// ---------------------------------------------------------------- HTTP

export interface HttpResult {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

export function httpRequest(port: number, method: string, urlPath: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<HttpResult> {
  return new Promise<HttpResult>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: urlPath, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// ---------------------------------------------------------------- errors

/** Awaits `p`, which must fail with gRPC status `code` (compared by name); returns the error. */
export async function expectStatus(p: Promise<unknown>, code: grpc.status, detailsPattern?: RegExp | string): Promise<grpc.ServiceError> {
  let err: grpc.ServiceError | undefined;
  try {
    await p;
  } catch (e) {
    err = e as grpc.ServiceError;
  }
  assert.ok(err, `expected ${grpc.status[code]}, the call succeeded`);
  assert.equal(grpc.status[err.code], grpc.status[code], `expected ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`);
  if (detailsPattern !== undefined) {
    const ok = typeof detailsPattern === 'string' ? err.details.includes(detailsPattern) : detailsPattern.test(err.details);
    assert.ok(ok, `details ${JSON.stringify(err.details)} should name ${String(detailsPattern)}`);
  }
  return err;
}

/** Length of the longest run of same-brand items on a page. */
export function maxBrandRun(items: readonly { brand: string }[]): number {
  let best = 0;
  let run = 0;
  items.forEach((it, i) => {
    run = i > 0 && it.brand === items[i - 1].brand ? run + 1 : 1;
    best = Math.max(best, run);
  });
  return best;
}

// ---------------------------------------------------------------- world

export interface WorldItem {
  id: string;
  brand: string;
  category: string;
  createdAt: number;
  price: number;
}

export interface WorldUser {
  id: string;
  segment: 'new' | 'returning';
  categories: string[];
}

export const TEST_WORLD: WorldConfig = { ...DEFAULT_WORLD, items: 4000, users: 400, dim: 16 };

export interface World {
  root: string;
  paths: WorldPaths;
  config: WorldConfig;
  referenceTime: number;
  items: Map<string, WorldItem>;
  users: WorldUser[];
  /** Items created within the 7 days before referenceTime. */
  isNew(id: string): boolean;
}

async function readJsonl<T>(file: string): Promise<T[]> {
  const text = await fs.readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Generates the test world into a fresh temp directory. */
export async function makeWorld(cfg: WorldConfig = TEST_WORLD): Promise<World> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'rank-service-'));
  const paths = worldPaths(root);
  await generateWorld(cfg, root, { progress: false });
  const items = new Map<string, WorldItem>();
  for (const it of await readJsonl<{ id: string; brand: string; category: string; created_at: string; price: number }>(path.join(paths.bundle, 'items.jsonl'))) {
    items.set(it.id, { id: it.id, brand: it.brand, category: it.category, createdAt: Date.parse(it.created_at), price: it.price });
  }
  const users = await readJsonl<WorldUser>(path.join(paths.truth, 'users.jsonl'));
  const referenceTime = Date.parse(cfg.referenceTime);
  return {
    root,
    paths,
    config: cfg,
    referenceTime,
    items,
    users,
    isNew(id: string): boolean {
      const it = items.get(id);
      return it !== undefined && it.createdAt > referenceTime - 7 * DAY_MS && it.createdAt <= referenceTime;
    },
  };
}

// ---------------------------------------------------------------- harness

export interface Harness {
  world: World;
  bundle: Bundle;
  engine: Engine;
  metrics: Metrics;
  service: RankingService;
  client: RankingClient;
  address: string;
  grpcPort: number;
  httpPort: number;
  close(): Promise<void>;
}

export const ENGINE_OPTIONS = {
  threads: 1,
  maxQueuedRows: 100_000,
  inlineMaxFlops: 4_000_000,
  inlineMaxSlices: 1,
  syncSearchMaxBytes: 4_000_000,
  catalogHeadroom: 1000,
  seenTtlMs: 24 * 3_600_000,
  purchaseWindowMs: 60 * 86_400_000,
  freshPool: 2000,
  freshKeep: 50,
  clock: 'bundle' as const,
};

export const silentLogger = pino({ level: 'silent' });

/** A service with no engine yet (NOT_SERVING), on ephemeral ports. */
export async function startService(metrics: Metrics = createMetrics({ defaultMetrics: false }), options: Partial<ServiceOptions> = {}): Promise<RankingService> {
  const service = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics, logger: silentLogger, ...options });
  await service.start();
  return service;
}

/** Generates the world, loads the bundle, creates the engine (ENGINE_OPTIONS with `overrides`) and serves it. */
export async function startHarness(overrides: Partial<EngineOptions> = {}, serviceOptions: Partial<ServiceOptions> = {}): Promise<Harness> {
  const world = await makeWorld();
  const cleanup: (() => Promise<void> | void)[] = [() => fs.rm(world.root, { recursive: true, force: true })];
  const undo = async () => {
    for (const f of cleanup.reverse()) await f();
  };
  try {
    const bundle = await loadBundle(world.paths.bundle, { progress: false });
    const metrics = createMetrics({ defaultMetrics: false });
    const engine = await Engine.create(bundle, { ...ENGINE_OPTIONS, ...overrides, seedEvents: world.paths.events, metrics });
    cleanup.push(() => engine.close());
    const service = await startService(metrics, serviceOptions);
    cleanup.push(() => service.stop(1000));
    service.setEngine(engine);
    const address = `127.0.0.1:${service.grpcPort}`;
    const client = new RankingClient(address);
    cleanup.push(() => client.close());
    let closed = false;
    return {
      world,
      bundle,
      engine,
      metrics,
      service,
      client,
      address,
      grpcPort: service.grpcPort,
      httpPort: service.httpPort,
      async close() {
        if (closed) return;
        closed = true;
        await undo();
      },
    };
  } catch (err) {
    await undo();
    throw err;
  }
}

