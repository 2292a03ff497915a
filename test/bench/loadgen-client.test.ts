// The load generator's transport: the raw HTTP/2 gRPC client (pre-encoded
// requests, status read from the trailers or a trailers-only response)
// against an in-process grpc-js server with the service's proto and against
// bare node:http2 servers that misbehave on purpose (trailers-only errors,
// non-200 answers, a session closed under the call, no answer at all); then a
// whole open-loop run (worker processes) against the grpc-js server.
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';

import { encodeRequests, methodOf, runLoad } from '../../bench/loadgen/client';
import { frameMessage, RawGrpcClient, unframeMessage } from '../../bench/loadgen/raw-grpc';
import { buildSchedule } from '../../bench/loadgen/schedule';
import { Event__Output, RankingServiceHandlers, rankingPackage, RankRequest__Output } from '../../src/client';
import { SERVICE_NAME } from '../../src/api/proto';

const def = rankingPackage().ranking.v1.RankingService.service;
const RANK = `/${SERVICE_NAME}/Rank`;

/** grpc-js server with the service's proto: Rank is OK for user-NNNNNN ids unless `refuse` says otherwise; RecordEvents accepts every event. */
class TestServer {
  readonly server = new grpc.Server();
  readonly ranks: RankRequest__Output[] = [];
  readonly events: Event__Output[] = [];
  port = 0;

  constructor(refuse: (userId: string) => grpc.status | undefined = () => undefined) {
    // The other methods answer UNIMPLEMENTED (grpc-js's default).
    const handlers: Pick<RankingServiceHandlers, 'Rank' | 'RecordEvents'> = {
      Rank: (call, cb) => {
        const r = call.request;
        this.ranks.push(r);
        if (!/^user-\d{6}$/.test(r.user_id)) return cb({ code: grpc.status.INVALID_ARGUMENT, details: 'user_id must be set' });
        const refused = refuse(r.user_id);
        if (refused !== undefined) return cb({ code: refused, details: 'refused by the test server' });
        cb(null, { items: [{ item_id: `item-for-${r.user_id}`, score: 1 }], request_id: 'r1' });
      },
      RecordEvents: (call, cb) => {
        this.events.push(...call.request.events);
        cb(null, { accepted: call.request.events.length });
      },
    };
    this.server.addService(def, handlers);
  }

  async start(): Promise<string> {
    this.port = await new Promise<number>((res, rej) => this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    return `127.0.0.1:${this.port}`;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

/** A bare HTTP/2 server whose streams are answered by `answer`; records each request's headers and body. */
async function rawServer(answer: (stream: http2.ServerHttp2Stream, n: number) => void): Promise<{ target: string; requests: { headers: http2.IncomingHttpHeaders; body: Buffer }[]; close: () => Promise<void> }> {
  const server = http2.createServer();
  const requests: { headers: http2.IncomingHttpHeaders; body: Buffer }[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      requests.push({ headers, body: Buffer.concat(chunks) });
      answer(stream, requests.length);
    });
    stream.on('error', () => undefined);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sessions) s.destroy();
        server.close(() => res());
      }),
  };
}

const call = (c: RawGrpcClient, path: string, framed: Buffer, timeoutMs = 5000, keepBody = false): Promise<{ status: string; body?: Buffer }> =>
  new Promise((res) => c.call(path, framed, timeoutMs, (status, body) => res({ status, body }), keepBody));

const rankFrame = (userId: string): Buffer => frameMessage(def.Rank.requestSerialize({ user_id: userId, context: { surface: 'SURFACE_HOME' }, num_results: 20 }));

describe('loadgen raw HTTP/2 client against grpc-js', () => {
  let server: TestServer;
  let client: RawGrpcClient;

  before(async () => {
    server = new TestServer();
    client = new RawGrpcClient(await server.start());
    await client.connect(5000);
  });
  after(() => {
    client.close();
    server.stop();
  });

  it('a pre-encoded Rank request is answered OK and its body decodes as a RankResponse', async () => {
    const { rank } = encodeRequests({ mix: 'rank', users: 10, items: 100, numResults: 7, seed: 1 }, Uint32Array.from([3, 13]), 0);
    assert.equal(rank.size, 1, 'one request per distinct user (3 and 13 are both user 3 of 10)');
    const r = await call(client, RANK, rank.get(3)!, 5000, true);
    assert.equal(r.status, 'OK');
    const res = def.Rank.responseDeserialize(unframeMessage(r.body!));
    assert.deepEqual(
      res.items.map((i) => i.item_id),
      ['item-for-user-000003'],
    );
    const seen = server.ranks[server.ranks.length - 1];
    assert.equal(seen.user_id, 'user-000003');
    assert.equal(seen.num_results, 7);
    assert.equal(seen.context?.surface, 'SURFACE_HOME');
    assert.equal(seen.context?.device, 'DEVICE_MOBILE');
  });

  it('counts a non-OK status by its name (grpc-js answers errors trailers-only)', async () => {
    assert.equal((await call(client, RANK, rankFrame(''))).status, 'INVALID_ARGUMENT');
    assert.equal((await call(client, `/${SERVICE_NAME}/NoSuchMethod`, rankFrame('user-000001'))).status, 'UNIMPLEMENTED');
  });

  it('many calls in flight on one session all complete', async () => {
    const n = 300;
    const statuses = await Promise.all(Array.from({ length: n }, (_, i) => call(client, RANK, rankFrame(`user-${String(i).padStart(6, '0')}`))));
    assert.equal(statuses.filter((s) => s.status === 'OK').length, n);
    assert.equal(client.openSessions, 1);
    assert.equal(client.inFlight, 0);
  });

  it('rank+events: one RecordEvents request per event call, each a click by its own user on an item in range', () => {
    const indices = Uint32Array.from({ length: 24 }, (_, i) => i);
    const { rank, events } = encodeRequests({ mix: 'rank+events', users: 100, items: 50, numResults: 5, seed: 9 }, indices, 0);
    const eventIdx = [...indices].filter((g) => methodOf(g, 'rank+events') === 'RecordEvents');
    assert.equal(events.length, eventIdx.length);
    assert.equal(rank.size, indices.length - eventIdx.length);
    events.forEach((e, k) => {
      const req = def.RecordEvents.requestDeserialize(unframeMessage(e));
      assert.equal(req.events.length, 1);
      assert.equal(req.events[0].user_id, `user-${String(eventIdx[k]).padStart(6, '0')}`);
      assert.equal(req.events[0].type, 'ACTION_TYPE_CLICK');
      const item = Number(/^item-(\d{7})$/.exec(req.events[0].item_id)?.[1]);
      assert.ok(item >= 0 && item < 50, req.events[0].item_id);
    });
  });
});

describe('loadgen raw HTTP/2 client against misbehaving servers', () => {
  it('sends the gRPC headers and one length-prefixed message; reads the status from trailers-only, trailers and non-200 answers', async () => {
    const srv = await rawServer((stream, n) => {
      if (n === 1) stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '8', 'grpc-message': 'busy' }, { endStream: true });
      else if (n === 2) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '14' }));
        stream.end(frameMessage(Buffer.alloc(3)));
      } else if (n === 3) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frameMessage(def.Rank.requestSerialize({})));
      } else if (n === 4) stream.respond({ ':status': 503 }, { endStream: true });
      else stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { endStream: true }); // no status at all
    });
    const c = new RawGrpcClient(srv.target);
    try {
      await c.connect(5000);
      const frame = rankFrame('user-000042');
      assert.equal((await call(c, RANK, frame, 1234)).status, 'RESOURCE_EXHAUSTED');
      assert.equal((await call(c, RANK, frame)).status, 'UNAVAILABLE');
      assert.equal((await call(c, RANK, frame)).status, 'OK');
      assert.equal((await call(c, RANK, frame)).status, 'UNAVAILABLE');
      assert.equal((await call(c, RANK, frame)).status, 'UNKNOWN');
      const first = srv.requests[0];
      assert.equal(first.headers[':method'], 'POST');
      assert.equal(first.headers[':path'], RANK);
      assert.equal(first.headers['content-type'], 'application/grpc');
      assert.equal(first.headers.te, 'trailers');
      assert.equal(first.headers['grpc-timeout'], '1234m');
      assert.equal(first.body[0], 0, 'not compressed');
      assert.equal(first.body.readUInt32BE(1), first.body.length - 5);
      assert.equal(def.Rank.requestDeserialize(first.body.subarray(5)).user_id, 'user-000042');
    } finally {
      c.close();
      await srv.close();
    }
  });

  it('a server that closes the session under a call: UNAVAILABLE, then the next call reconnects', async () => {
    const srv = await rawServer((stream, n) => {
      if (n === 1) stream.session?.destroy();
      else stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
    });
    const c = new RawGrpcClient(srv.target);
    try {
      await c.connect(5000);
      assert.equal((await call(c, RANK, rankFrame('user-000001'))).status, 'UNAVAILABLE');
      assert.equal((await call(c, RANK, rankFrame('user-000002'))).status, 'OK');
      assert.equal(srv.requests.length, 2);
    } finally {
      c.close();
      await srv.close();
    }
  });

  it('a server that never answers: DEADLINE_EXCEEDED at the client deadline, the stream is cancelled', async () => {
    let cancelled = false;
    const srv = await rawServer((stream) => stream.on('close', () => (cancelled = stream.rstCode === http2.constants.NGHTTP2_CANCEL)));
    const c = new RawGrpcClient(srv.target);
    try {
      await c.connect(5000);
      assert.equal((await call(c, RANK, rankFrame('user-000001'), 150)).status, 'DEADLINE_EXCEEDED');
      for (let i = 0; i < 50 && !cancelled; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(cancelled, 'the server saw RST_STREAM(CANCEL)');
      assert.equal(c.inFlight, 0);
    } finally {
      c.close();
      await srv.close();
    }
  });

  it('no server: connect() gives up with the target in the message; calls fail UNAVAILABLE', async () => {
    const srv = await rawServer(() => undefined);
    const target = srv.target;
    await srv.close(); // nothing listens there now
    const c = new RawGrpcClient(target);
    try {
      await assert.rejects(c.connect(300), new RegExp(`cannot connect to ${target}`));
      assert.equal((await call(c, RANK, rankFrame('user-000001'))).status, 'UNAVAILABLE');
    } finally {
      c.close();
    }
  });
});

describe('loadgen open-loop run (worker processes) against grpc-js', function () {
  this.timeout(30_000);

  it('sends every scheduled call once, counts statuses by name per method, acknowledges events', async () => {
    // user-NNNNN0 is refused: which calls those are follows from the schedule alone.
    const server = new TestServer((u) => (u.endsWith('0') ? grpc.status.RESOURCE_EXHAUSTED : undefined));
    const target = await server.start();
    try {
      const o = { target, rate: 100, durationS: 1, warmupS: 0.5, workers: 2, mix: 'rank+events' as const, process: 'constant' as const, seed: 5, users: 37, items: 20, numResults: 10, timeoutMs: 5000 };
      const r = await runLoad(o);
      const schedule = buildSchedule({ rate: o.rate, durationS: o.warmupS + o.durationS, process: o.process, seed: o.seed });
      assert.equal(schedule.length, 150);
      assert.equal(r.sent, schedule.length);
      const all = [...schedule.keys()];
      const inWindow = all.filter((g) => schedule[g] >= 500 && schedule[g] < 1500);
      const rankAll = all.filter((g) => methodOf(g, o.mix) === 'Rank');
      const eventAll = all.filter((g) => methodOf(g, o.mix) === 'RecordEvents');
      // Each worker sends one Rank call to check the server's answer decodes before the run.
      assert.equal(server.ranks.length, rankAll.length + o.workers);
      assert.equal(server.events.length, eventAll.length);
      assert.equal(r.eventsAcknowledged, eventAll.length);
      const rankWin = inWindow.filter((g) => methodOf(g, o.mix) === 'Rank');
      const refused = rankWin.filter((g) => (g % o.users) % 10 === 0).length;
      assert.ok(refused > 0);
      assert.equal(r.methods.Rank?.calls, rankWin.length);
      assert.equal(r.methods.Rank?.ok, rankWin.length - refused);
      assert.deepEqual(r.methods.Rank?.errors, { RESOURCE_EXHAUSTED: refused });
      assert.equal(r.methods.RecordEvents?.calls, inWindow.length - rankWin.length);
      assert.equal(r.methods.RecordEvents?.ok, inWindow.length - rankWin.length);
      // Users vary as the global index does; events click items in range.
      assert.deepEqual(new Set(server.ranks.slice(o.workers).map((q) => q.user_id)), new Set(rankAll.map((g) => `user-${String(g % o.users).padStart(6, '0')}`)));
      assert.ok(server.events.every((e) => /^item-00000(0\d|1\d)$/.test(e.item_id)));
      assert.ok(r.clientCpuUsPerCall > 0 && r.clientWakeupsPerCall > 0);
      assert.equal(r.methods.Rank?.latency.count, rankWin.length - refused);
    } finally {
      server.stop();
    }
  });
});
