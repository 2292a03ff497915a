import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { request } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventLog } from '../../src/state/event-log';
import { startHttpServer } from '../../src/api/http';
import { grpcToHttpStatus, httpToGrpcStatus } from '../../src/api/http-status';
import type { HttpCall, HttpReply, HttpServerHandle } from '../../src/api/http';
import { createMetrics } from '../../src/metrics/metrics';
import type { Metrics } from '../../src/metrics/metrics';
import { RankingService } from '../../src/api/service';
import { DEFAULT_LIMITS, toRankInput } from '../../src/api/validate';
import { DEFAULT_RANK } from '../../src/pipeline/options';
import { Harness, httpRequest, silentLogger, startHarness } from './harness';

const JSON_HEADERS = { 'content-type': 'application/json' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface ErrorBody {
  error: { code: number; status: string; reason: string; message: string };
  requestId: string;
}

/** Sends a raw request (chunked when no content-length is given) and reads the whole reply. */
function rawRequest(
  port: number,
  method: string,
  path: string,
  chunks: Buffer[],
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolveReply, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolveReply({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('server/http', () => {
  let metrics: Metrics;
  let server: HttpServerHandle;
  let base: string;
  let serving: boolean;
  let rankImpl: (body: unknown, requestId: string) => Promise<HttpReply>;
  const calls: { body: unknown; requestId: string }[] = [];

  beforeEach(async () => {
    metrics = createMetrics({ defaultMetrics: false });
    serving = true;
    calls.length = 0;
    rankImpl = async (body, requestId) => ({ status: 200, body: { items: [], echo: body, requestId } });
    server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      metrics,
      maxBodyBytes: 1024,
      health: () => serving,
      rank: (body, requestId) => {
        calls.push({ body, requestId });
        return rankImpl(body, requestId);
      },
    });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterEach(async () => {
    await server.close();
  });

  it('binds port 0 to a real port', () => {
    assert.ok(Number.isInteger(server.port) && server.port > 0);
  });

  it('serves /metrics in the Prometheus text format', async () => {
    metrics.setBundle('demo', 'v7');
    await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: '{"userId":"u1"}' });
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    assert.match(text, /^# HELP ranking_requests_total /m);
    assert.match(text, /^# TYPE ranking_request_duration_seconds histogram$/m);
    assert.match(text, /^ranking_requests_total\{method="HttpRank",code="OK"\} 1$/m);
    assert.match(text, /^ranking_request_duration_seconds_count\{method="HttpRank"\} 1$/m);
    assert.match(text, /^ranking_bundle_info\{name="demo",version="v7"\} 1$/m);
  });

  it('serves /healthz as SERVING or NOT_SERVING', async () => {
    let res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'SERVING\n');
    serving = false;
    res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), 'NOT_SERVING\n');
  });

  it('ranks a JSON body and returns the callback reply', async () => {
    const req = { userId: 'u1', numResults: 10, context: { surface: 'SURFACE_HOME' } };
    const res = await fetch(`${base}/v1/rank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(req),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const id = res.headers.get('x-request-id') ?? '';
    assert.match(id, UUID);
    const body = (await res.json()) as { items: unknown[]; echo: unknown; requestId: string };
    assert.deepEqual(body, { items: [], echo: req, requestId: id });
    assert.deepEqual(calls, [{ body: req, requestId: id }]);
  });

  it('passes the callback status through and labels the metric with its gRPC code', async () => {
    rankImpl = async () => ({ status: grpcToHttpStatus(14), body: { error: 'no bundle loaded' } });
    let res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { error: 'no bundle loaded' });
    rankImpl = async () => ({ status: 500, body: {}, grpcCode: 4 });
    res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    assert.equal(res.status, 500);
    await res.arrayBuffer();
    const text = await metrics.text();
    assert.match(text, /^ranking_requests_total\{method="HttpRank",code="UNAVAILABLE"\} 1$/m);
    assert.match(text, /^ranking_requests_total\{method="HttpRank",code="DEADLINE_EXCEEDED"\} 1$/m);
  });

  it('answers 400 naming the problem for bad or empty JSON, without calling rank', async () => {
    let res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: '{"userId": ' });
    assert.equal(res.status, 400);
    let body = (await res.json()) as ErrorBody;
    assert.equal(body.error.reason, 'INVALID_JSON');
    assert.equal(body.error.status, 'INVALID_ARGUMENT');
    assert.match(body.error.message, /not valid JSON/);
    assert.equal(body.requestId, res.headers.get('x-request-id'));

    res = await fetch(`${base}/v1/rank`, { method: 'POST' });
    assert.equal(res.status, 400);
    body = (await res.json()) as ErrorBody;
    assert.equal(body.error.reason, 'INVALID_JSON');
    assert.match(body.error.message, /empty/);
    assert.equal(calls.length, 0);
    assert.match(await metrics.text(), /^ranking_requests_total\{method="HttpRank",code="INVALID_ARGUMENT"\} 2$/m);
  });

  it('answers 413 for bodies over maxBodyBytes, declared or streamed', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(2000) });
    const res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: big });
    assert.equal(res.status, 413);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.reason, 'BODY_TOO_LARGE');
    assert.match(body.error.message, /limit of 1024 bytes/);

    // No content-length: chunked, refused once the running total passes the limit.
    const chunked = await rawRequest(server.port, 'POST', '/v1/rank', [
      Buffer.from('{"pad":"'),
      Buffer.alloc(600, 'y'),
      Buffer.alloc(600, 'y'),
      Buffer.from('"}'),
    ]);
    assert.equal(chunked.status, 413);
    assert.equal((JSON.parse(chunked.body) as ErrorBody).error.reason, 'BODY_TOO_LARGE');
    assert.equal(calls.length, 0);

    // Exactly at the limit is fine.
    const exact = JSON.stringify({ pad: 'z'.repeat(1024 - 10) });
    assert.equal(Buffer.byteLength(exact), 1024);
    const ok = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: exact });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
  });

  it('maps a throwing rank callback to 500 and keeps serving', async () => {
    rankImpl = async () => {
      throw new Error('secret internal detail');
    };
    let res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    assert.equal(res.status, 500);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.status, 'INTERNAL');
    assert.doesNotMatch(body.error.message, /secret/);

    rankImpl = () => Promise.reject('not even an Error');
    res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    assert.equal(res.status, 500);
    await res.arrayBuffer();

    rankImpl = async () => ({ status: 42, body: {} });
    res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    assert.equal(res.status, 500, 'an invalid status from the callback is an internal error');
    await res.arrayBuffer();

    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    rankImpl = async () => ({ status: 200, body: cyclic });
    res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    assert.equal(res.status, 500, 'an unserialisable body is an internal error');
    await res.arrayBuffer();

    res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.match(await metrics.text(), /^ranking_requests_total\{method="HttpRank",code="INTERNAL"\} 4$/m);
  });

  it('answers 404 for unknown paths and 405 for wrong methods', async () => {
    let res = await fetch(`${base}/nope`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as ErrorBody).error.reason, 'NOT_FOUND');
    res = await fetch(`${base}/v1/rank/extra`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    assert.equal(res.status, 404);
    await res.arrayBuffer();
    res = await fetch(`${base}/v1/rank`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    await res.arrayBuffer();
    res = await fetch(`${base}/metrics`, { method: 'POST', headers: JSON_HEADERS, body: 'x' });
    assert.equal(res.status, 405);
    await res.arrayBuffer();
    // Query strings do not change the route.
    res = await fetch(`${base}/healthz?probe=1`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  it('echoes a caller x-request-id, generates one otherwise', async () => {
    let res = await fetch(`${base}/v1/rank`, { method: 'POST', body: '{}', headers: { ...JSON_HEADERS, 'x-request-id': 'req-123' } });
    assert.equal(res.headers.get('x-request-id'), 'req-123');
    assert.equal(((await res.json()) as { requestId: string }).requestId, 'req-123');
    assert.equal(calls[0]?.requestId, 'req-123');

    for (const path of ['/healthz', '/metrics', '/nope']) {
      res = await fetch(`${base}${path}`, { headers: { 'x-request-id': 'abc' } });
      assert.equal(res.headers.get('x-request-id'), 'abc', path);
      await res.arrayBuffer();
    }
    res = await fetch(`${base}/healthz`);
    assert.match(res.headers.get('x-request-id') ?? '', UUID);
    await res.arrayBuffer();
    // An unreasonable id (too long) is replaced, not echoed.
    res = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'a'.repeat(500) } });
    assert.match(res.headers.get('x-request-id') ?? '', UUID);
    await res.arrayBuffer();
  });

  it('runs two servers side by side with their own metrics', async () => {
    const other = createMetrics({ defaultMetrics: false });
    const second = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      metrics: other,
      health: () => false,
      rank: async () => ({ status: 200, body: {} }),
    });
    try {
      assert.notEqual(second.port, server.port);
      let res = await fetch(`http://127.0.0.1:${second.port}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
      await res.arrayBuffer();
      res = await fetch(`http://127.0.0.1:${second.port}/healthz`);
      assert.equal(res.status, 503);
      await res.arrayBuffer();
      assert.match(await other.text(), /^ranking_requests_total\{method="HttpRank",code="OK"\} 1$/m);
      assert.doesNotMatch(await metrics.text(), /^ranking_requests_total\{/m);
    } finally {
      await second.close();
    }
  });

  it('closes promptly with idle keep-alive connections and refuses afterwards', async () => {
    const extra = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      metrics: createMetrics({ defaultMetrics: false }),
      health: () => true,
      rank: async () => ({ status: 200, body: {} }),
    });
    const res = await fetch(`http://127.0.0.1:${extra.port}/healthz`);
    await res.arrayBuffer();
    const t0 = Date.now();
    await extra.close();
    assert.ok(Date.now() - t0 < 1000, 'close waited on an idle connection');
    await assert.rejects(fetch(`http://127.0.0.1:${extra.port}/healthz`));
    await extra.close(); // idempotent
  });

  it('rejects when the port is taken', async () => {
    await assert.rejects(
      startHttpServer({
        port: server.port,
        host: '127.0.0.1',
        metrics: createMetrics({ defaultMetrics: false }),
        health: () => true,
        rank: async () => ({ status: 200, body: {} }),
      }),
      /EADDRINUSE/,
    );
  });
});

describe('server/http gateway rules', () => {
  let server: HttpServerHandle;
  let base: string;
  const calls: { route: string; body: unknown; call: HttpCall }[] = [];
  const reply = (route: string) => async (body: unknown, _requestId: string, call: HttpCall): Promise<HttpReply> => {
    calls.push({ route, body, call });
    return { status: 200, body: { route } };
  };

  beforeEach(async () => {
    calls.length = 0;
    server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      metrics: createMetrics({ defaultMetrics: false }),
      maxBodyBytes: 1024,
      health: () => true,
      rank: reply('rank'),
      recordEvents: reply('events'),
    });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterEach(async () => {
    await server.close();
  });

  it('405, 413 and 415 bodies carry their own status names', async () => {
    let res = await fetch(`${base}/v1/rank`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    let body = (await res.json()) as ErrorBody;
    assert.equal(body.error.status, 'METHOD_NOT_ALLOWED', JSON.stringify(body));
    assert.equal(body.error.code, 405);

    res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ pad: 'x'.repeat(2000) }) });
    assert.equal(res.status, 413);
    body = (await res.json()) as ErrorBody;
    assert.equal(body.error.status, 'PAYLOAD_TOO_LARGE', JSON.stringify(body));

    res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    assert.equal(res.status, 415);
    body = (await res.json()) as ErrorBody;
    assert.equal(body.error.status, 'UNSUPPORTED_MEDIA_TYPE', JSON.stringify(body));
    assert.equal(body.error.code, 415);
    assert.match(body.error.message, /application\/json/);
    assert.equal(calls.length, 0);
  });

  it('takes application/json (charset utf-8) or no content type, and refuses form bodies and other charsets with 415', async () => {
    const post = (headers: Record<string, string>) => rawRequest(server.port, 'POST', '/v1/rank', [Buffer.from('{"a":1}')], headers);
    assert.equal((await post({ 'content-type': 'application/json' })).status, 200);
    assert.equal((await post({ 'content-type': 'Application/JSON; charset=UTF-8' })).status, 200);
    assert.equal((await post({})).status, 200, 'no content type is taken as JSON');
    for (const type of ['application/x-www-form-urlencoded', 'text/plain;charset=UTF-8', 'application/json; charset=latin1', 'multipart/form-data; boundary=x']) {
      const res = await post({ 'content-type': type });
      assert.equal(res.status, 415, type);
      assert.equal((JSON.parse(res.body) as ErrorBody).error.status, 'UNSUPPORTED_MEDIA_TYPE', type);
    }
    assert.equal(calls.length, 3);
    assert.deepEqual(calls[0].body, { a: 1 });
  });

  it('routes POST /v1/events to the recordEvents callback and passes the names choice', async () => {
    let res = await fetch(`${base}/v1/events?names=json`, { method: 'POST', headers: JSON_HEADERS, body: '{"events":[]}' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { route: 'events' });
    res = await fetch(`${base}/v1/rank`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    assert.deepEqual(await res.json(), { route: 'rank' });
    assert.deepEqual(
      calls.map((c) => [c.route, c.call.names]),
      [
        ['events', 'json'],
        ['rank', 'proto'],
      ],
    );
    res = await fetch(`${base}/v1/events`);
    assert.equal(res.status, 405);
    await res.arrayBuffer();
    res = await fetch(`${base}/v1/rank?names=camel`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    assert.equal(res.status, 400);
    const body = (await res.json()) as ErrorBody;
    assert.match(body.error.message, /^names: /);
    assert.equal(calls.length, 2);
  });
});

describe('server/http status mapping', () => {
  it('maps gRPC status codes to HTTP', () => {
    const expected: [number, number][] = [
      [0, 200], // OK
      [3, 400], // INVALID_ARGUMENT
      [5, 404], // NOT_FOUND
      [8, 429], // RESOURCE_EXHAUSTED
      [14, 503], // UNAVAILABLE
      [4, 504], // DEADLINE_EXCEEDED
      [16, 401], // UNAUTHENTICATED
      [7, 403], // PERMISSION_DENIED
      [13, 500], // INTERNAL
      [2, 500], // UNKNOWN
      [1, 500], // CANCELLED
      [12, 500], // UNIMPLEMENTED
      [99, 500],
    ];
    for (const [code, http] of expected) assert.equal(grpcToHttpStatus(code), http, `gRPC ${code}`);
  });

  it('maps HTTP statuses back to gRPC codes for metric labels', () => {
    for (const code of [0, 3, 4, 5, 7, 8, 14, 16]) assert.equal(httpToGrpcStatus(grpcToHttpStatus(code)), code);
    assert.equal(httpToGrpcStatus(413), 3);
    assert.equal(httpToGrpcStatus(500), 13);
    assert.equal(httpToGrpcStatus(204), 0);
  });
});

describe('server/http proto3 JSON gateway (end to end)', function () {
  this.timeout(120_000);
  let h: Harness;
  let users: string[] = [];
  const post = async (urlPath: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await httpRequest(h.httpPort, 'POST', urlPath, JSON.stringify(body), JSON_HEADERS);
    return { status: res.status, json: JSON.parse(res.body) as Record<string, unknown> };
  };
  const itemIds = (json: Record<string, unknown>, key = 'item_id'): string[] => (json.items as Record<string, string>[]).map((it) => it[key]);
  /** A 400 whose message starts with the field's path. */
  const refused = async (body: unknown, field: string, urlPath = '/v1/rank'): Promise<string> => {
    const { status, json } = await post(urlPath, body);
    const err = (json as unknown as ErrorBody).error;
    assert.equal(status, 400, JSON.stringify(json));
    assert.equal(err.status, 'INVALID_ARGUMENT');
    assert.ok(err.message.startsWith(`${field}: `), `message ${JSON.stringify(err.message)} should name ${field}`);
    assert.doesNotMatch(err.message, /got (undefined|null)/);
    return err.message;
  };

  before(async function () {
    this.timeout(240_000);
    h = await startHarness();
    users = h.world.users.filter((u) => u.segment === 'returning').map((u) => u.id);
  });

  after(async () => {
    await h?.close();
  });

  it('takes proto3 JSON as MessageToJson writes it (JSON names, enums by number, 64-bit ints and numbers as strings): the same page as the proto-name request', async () => {
    const user = users[0];
    const snake = await post('/v1/rank', {
      user_id: user,
      context: { surface: 'SURFACE_HOME', device: 'DEVICE_MOBILE' },
      num_results: 10,
      objective_weights: { purchase: 2 },
      options: { exploration: 'EXPLORATION_METHOD_THOMPSON', seed: 7, retrieval_k: 500, diversity_lambda: 0.5 },
    });
    assert.equal(snake.status, 200, JSON.stringify(snake.json));
    const camel = await post('/v1/rank', {
      userId: user,
      context: { surface: 1, device: 1 },
      numResults: '10',
      objectiveWeights: { purchase: '2' },
      options: { exploration: 3, seed: '7', retrievalK: 500, diversityLambda: '0.5' },
    });
    assert.equal(camel.status, 200, JSON.stringify(camel.json));
    assert.equal(itemIds(snake.json).length, 10);
    assert.deepEqual(itemIds(camel.json), itemIds(snake.json));
  });

  it('answers with proto field names by default and JSON names with ?names=json', async () => {
    const req = { userId: users[1], numResults: 3 };
    const proto = await post('/v1/rank', req);
    assert.equal(proto.status, 200, JSON.stringify(proto.json));
    assert.equal(typeof proto.json.bundle_version, 'string');
    assert.equal(itemIds(proto.json).length, 3);
    const json = await post('/v1/rank?names=json', req);
    assert.equal(json.status, 200, JSON.stringify(json.json));
    assert.equal(json.json.bundleVersion, proto.json.bundle_version);
    assert.equal(json.json.bundle_version, undefined);
    assert.deepEqual(itemIds(json.json, 'itemId'), itemIds(proto.json));
  });

  it('"context": "home" is refused naming context', async () => {
    await refused({ user_id: users[2], num_results: 5, context: 'home' }, 'context');
  });

  it('"options": [1] is refused naming options', async () => {
    await refused({ user_id: users[2], num_results: 5, options: [1] }, 'options');
  });

  it('an Object.prototype name as an enum value ("device": "constructor") is refused naming the field', async () => {
    const msg = await refused({ user_id: users[2], num_results: 5, context: { device: 'constructor' } }, 'context.device');
    assert.match(msg, /"constructor"/);
    await refused({ user_id: users[2], num_results: 5, context: { surface: 'toString' } }, 'context.surface');
  });

  it('an unknown field is refused naming it, at any depth', async () => {
    await refused({ user_id: users[2], num_results: 5, bogus: 1 }, 'bogus');
    await refused({ user_id: users[2], num_results: 5, options: { seeed: 1 } }, 'options.seeed');
    await refused({ events: [{ user_id: users[2], item_id: 'x', type: 'ACTION_TYPE_CLICK', when: 1 }] }, 'events[0].when', '/v1/events');
  });

  it('wrong types are refused naming the field and showing the value', async () => {
    assert.match(await refused({ user_id: users[2], num_results: 'five' }, 'num_results'), /"five"/);
    await refused({ user_id: 5, num_results: 5 }, 'user_id');
    await refused({ user_id: users[2], num_results: 5, recent_actions: [{ item_id: 'a', type: 'ACTION_TYPE_CLICK' }, { item_id: 'b', type: 'CLICK' }] }, 'recent_actions[1].type');
    await refused({ user_id: users[2], num_results: 5, candidate_ids: 'abc' }, 'candidate_ids');
    await refused({ user_id: users[2], num_results: 5, objective_weights: { purchase: 'lots' } }, 'objective_weights["purchase"]');
    await refused({ user_id: users[2], num_results: 5, debug: 'yes' }, 'debug');
    await refused([1], 'request body');
  });

  it('validation messages say what is missing or show the value, never "got undefined" or "got null"', () => {
    const ctx = { bundle: h.engine.bundle, catalog: h.engine.catalog, now: h.engine.now(), requestId: 'r', deadline: Infinity, limits: DEFAULT_LIMITS, defaults: DEFAULT_RANK };
    const message = (raw: unknown): string => {
      try {
        toRankInput(raw, ctx);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(message({ user_id: users[2] }), /^num_results: must be between 1 and \d+, is missing$/);
    assert.match(message({ user_id: users[2], num_results: null }), /^num_results: .*is missing$/);
    assert.match(message({ user_id: users[2], num_results: 'five' }), /^num_results: .*got "five"$/);
    assert.match(message({ user_id: users[2], num_results: 5, options: { heavy_budget: 'x' } }), /^options\.heavy_budget: .*got "x"$/);
    assert.match(message({ user_id: users[2], num_results: 5, context: 'home' }), /^context: /);
    assert.match(message({ user_id: users[2], num_results: 5, options: { retrieval_k: '9' } }), /^options\.retrieval_k: .*got "9"$/);
    assert.match(message({ user_id: users[2], num_results: 5, context: { device: 'constructor' } }), /^context\.device: unknown value "constructor"/);
  });

  it('POST /v1/events records events that the next /v1/rank reflects', async () => {
    const user = users[3];
    const plain = { user_id: user, num_results: 10, options: { exploration: 'EXPLORATION_METHOD_NONE' } };
    const first = await post('/v1/rank', plain);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const [top, ...rest] = itemIds(first.json);
    const shown = rest.slice(0, 3);
    // A purchase of the top item (JSON names, enum by number, int64 as a string) and impressions of three more.
    const ack = await post('/v1/events', {
      events: [{ userId: user, itemId: top, type: 5, timestampMs: '0' }, ...shown.map((item_id) => ({ user_id: user, item_id, type: 'ACTION_TYPE_IMPRESSION' }))],
    });
    assert.equal(ack.status, 200, JSON.stringify(ack.json));
    assert.deepEqual(ack.json, { accepted: 4 });
    const second = await post('/v1/rank', plain);
    assert.equal(second.status, 200, JSON.stringify(second.json));
    const after = itemIds(second.json);
    assert.equal(after.length, 10);
    assert.ok(!after.includes(top), `purchased ${top} is still in ${after.join(', ')}`);
    for (const id of shown) assert.ok(!after.includes(id), `seen ${id} came back`);
    await refused({ events: [{ user_id: user, item_id: top, type: 'ACTION_TYPE_BUY' }] }, 'events[0].type', '/v1/events');
  });

  it('POST /v1/events acknowledges only events written to the event log', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'http-events-'));
    const { log } = await EventLog.open({ dir, maxEvents: 1000 });
    const service = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics: createMetrics({ defaultMetrics: false }), logger: silentLogger, eventLog: log });
    try {
      await service.start();
      service.setEngine(h.engine);
      const item = [...h.world.items.keys()][0];
      const event = { user_id: users[4], item_id: item, type: 'ACTION_TYPE_CART', timestamp_ms: h.world.referenceTime };
      let res = await httpRequest(service.httpPort, 'POST', '/v1/events', JSON.stringify({ events: [event] }), JSON_HEADERS);
      assert.equal(res.status, 200, res.body);
      await log.close();
      const { log: again, recovered } = await EventLog.open({ dir, maxEvents: 1000 });
      await again.close();
      assert.deepEqual(recovered.events, [{ userId: users[4], itemId: item, action: 4, ts: h.world.referenceTime }]);
      // The log is closed now: nothing is acknowledged.
      res = await httpRequest(service.httpPort, 'POST', '/v1/events', JSON.stringify({ events: [event] }), JSON_HEADERS);
      assert.equal(res.status, 503, res.body);
      assert.match(res.body, /not recorded/);
    } finally {
      await service.stop(1000);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
