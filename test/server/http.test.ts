import assert from 'node:assert/strict';
import { request } from 'node:http';
import { grpcToHttpStatus, httpToGrpcStatus, startHttpServer } from '../../src/server/http';
import type { HttpReply, HttpServerHandle } from '../../src/server/http';
import { createMetrics } from '../../src/server/metrics';
import type { Metrics } from '../../src/server/metrics';

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
    await fetch(`${base}/v1/rank`, { method: 'POST', body: '{"userId":"u1"}' });
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
    let res = await fetch(`${base}/v1/rank`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { error: 'no bundle loaded' });
    rankImpl = async () => ({ status: 500, body: {}, grpcCode: 4 });
    res = await fetch(`${base}/v1/rank`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 500);
    await res.arrayBuffer();
    const text = await metrics.text();
    assert.match(text, /^ranking_requests_total\{method="HttpRank",code="UNAVAILABLE"\} 1$/m);
    assert.match(text, /^ranking_requests_total\{method="HttpRank",code="DEADLINE_EXCEEDED"\} 1$/m);
  });

  it('answers 400 naming the problem for bad or empty JSON, without calling rank', async () => {
    let res = await fetch(`${base}/v1/rank`, { method: 'POST', body: '{"userId": ' });
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
    const res = await fetch(`${base}/v1/rank`, { method: 'POST', body: big });
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
    const ok = await fetch(`${base}/v1/rank`, { method: 'POST', body: exact });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
  });

  it('maps a throwing rank callback to 500 and keeps serving', async () => {
    rankImpl = async () => {
      throw new Error('secret internal detail');
    };
    let res = await fetch(`${base}/v1/rank`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 500);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.status, 'INTERNAL');
    assert.doesNotMatch(body.error.message, /secret/);

    rankImpl = () => Promise.reject('not even an Error');
    res = await fetch(`${base}/v1/rank`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 500);
    await res.arrayBuffer();

    rankImpl = async () => ({ status: 42, body: {} });
    res = await fetch(`${base}/v1/rank`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 500, 'an invalid status from the callback is an internal error');
    await res.arrayBuffer();

    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    rankImpl = async () => ({ status: 200, body: cyclic });
    res = await fetch(`${base}/v1/rank`, { method: 'POST', body: '{}' });
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
    res = await fetch(`${base}/v1/rank/extra`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    await res.arrayBuffer();
    res = await fetch(`${base}/v1/rank`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    await res.arrayBuffer();
    res = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 405);
    await res.arrayBuffer();
    // Query strings do not change the route.
    res = await fetch(`${base}/healthz?probe=1`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  it('echoes a caller x-request-id, generates one otherwise', async () => {
    let res = await fetch(`${base}/v1/rank`, { method: 'POST', body: '{}', headers: { 'x-request-id': 'req-123' } });
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
      let res = await fetch(`http://127.0.0.1:${second.port}/v1/rank`, { method: 'POST', body: '{}' });
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
