import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';

import { loadProto, SERVICE_NAME } from '../../src/api/service';
import { MAX_DEPTH } from '../../src/api/wire-check';
import { Harness, startHarness } from './harness';
import { frame, gzipFrame, rawCall } from './raw-grpc';

const RANK = `/${SERVICE_NAME}/Rank`;
const INVALID = grpc.status.INVALID_ARGUMENT;

/** A field tag (field number, wire type) as a varint. */
function tag(field: number, wire: number): Buffer {
  const bytes: number[] = [];
  let v = field * 8 + wire;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** ranking_requests_total for one method and status. */
async function requestCount(h: Harness, method: string, code: string): Promise<number> {
  const m = new RegExp(`^ranking_requests_total\\{method="${method}",code="${code}"\\} (\\d+)$`, 'm').exec(await h.metrics.text());
  return m ? Number(m[1]) : 0;
}

describe('malformed request messages: INVALID_ARGUMENT, counted', function () {
  this.timeout(120_000);
  let h: Harness;
  const rankRequest = loadProto()[SERVICE_NAME] as unknown as Record<string, grpc.MethodDefinition<object, object>>;
  const encodeRank = (req: object): Buffer => rankRequest.Rank.requestSerialize(req);

  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  // Each case: bytes that are not a valid ranking.v1.RankRequest.
  const user = Buffer.concat([tag(1, 2), Buffer.from([3]), Buffer.from('abc')]);
  const cases: [string, Buffer, RegExp][] = [
    ['ff ff ff ff', Buffer.from('ffffffff', 'hex'), /truncated|varint/],
    ['num_results (varint) sent length-delimited', Buffer.concat([user, tag(5, 2), Buffer.from([1, 0])]), /field num_results \(5\) has wire type length-delimited/],
    ['user_id (string) sent as fixed32', Buffer.concat([tag(1, 5), Buffer.from([1, 2, 3, 4])]), /field user_id \(1\) has wire type fixed32/],
    ['a string whose length runs past the end', Buffer.concat([tag(1, 2), Buffer.from([16]), Buffer.from('a')]), /field user_id \(1\) needs 16 bytes/],
    ['a truncated varint', Buffer.concat([tag(5, 0), Buffer.from([0xff])]), /field num_results \(5\) is truncated/],
    ['a sub-message longer than its parent', Buffer.concat([tag(2, 2), Buffer.from([2]), tag(4, 2), Buffer.from([5]), Buffer.from('x')]), /field category \(4\)/],
    ['unknown groups nested deeper than the limit', Buffer.concat(Array.from({ length: MAX_DEPTH + 50 }, () => tag(100, 3))), /nested deeper than 100/],
    ['an unterminated unknown group', Buffer.concat([user, tag(100, 3), tag(101, 0), Buffer.from([1])]), /group field 100 has no end-group tag/],
    ['a user_id that is not UTF-8', Buffer.concat([tag(1, 2), Buffer.from([2, 0xc3, 0x28])]), /field user_id \(1\) at byte 0 is not valid UTF-8/],
  ];

  for (const [name, bytes, reason] of cases) {
    it(`refuses ${name}`, async () => {
      const before = await requestCount(h, 'Rank', 'INVALID_ARGUMENT');
      const r = await rawCall(h.grpcPort, RANK, frame(bytes));
      assert.equal(r.status, INVALID, `grpc-status ${r.status} (${grpc.status[r.status]}): ${r.message}`);
      assert.match(r.message, /^Rank: the request message \(ranking\.v1\.RankRequest\) could not be decoded: /);
      assert.match(r.message, reason);
      assert.equal(await requestCount(h, 'Rank', 'INVALID_ARGUMENT'), before + 1, 'counted in ranking_requests_total');
    });
  }

  it('refuses a compressed frame that is not gzip, counted', async () => {
    const before = await requestCount(h, 'Rank', 'INVALID_ARGUMENT');
    const r = await rawCall(h.grpcPort, RANK, frame(Buffer.from('this is not gzip'), true), { 'grpc-encoding': 'gzip' });
    assert.equal(r.status, INVALID, `grpc-status ${r.status} (${grpc.status[r.status]}): ${r.message}`);
    assert.match(r.message, /^Rank: the request message \(ranking\.v1\.RankRequest\) could not be decoded: its compressed payload/);
    assert.equal(await requestCount(h, 'Rank', 'INVALID_ARGUMENT'), before + 1, 'counted in ranking_requests_total');
  });

  it('refuses a malformed message to RecordEvents and to the health service', async () => {
    const r = await rawCall(h.grpcPort, `/${SERVICE_NAME}/RecordEvents`, frame(Buffer.concat([tag(1, 0), Buffer.from([1])])));
    assert.equal(r.status, INVALID, r.message);
    assert.match(r.message, /^RecordEvents: the request message \(ranking\.v1\.RecordEventsRequest\) could not be decoded: field events \(1\) has wire type varint/);
    const health = await rawCall(h.grpcPort, '/grpc.health.v1.Health/Check', frame(Buffer.from('ffffffff', 'hex')));
    assert.equal(health.status, INVALID, health.message);
    assert.match(health.message, /^Check: the request message \(grpc\.health\.v1\.HealthCheckRequest\) could not be decoded/);
  });

  it('still serves well-formed messages: gzip, packed-free unknown fields, an unknown group', async () => {
    const valid = encodeRank({ user_id: 'user-000001', num_results: 3 });
    const plain = await rawCall(h.grpcPort, RANK, frame(valid));
    assert.equal(plain.status, grpc.status.OK, plain.message);
    const zipped = await rawCall(h.grpcPort, RANK, gzipFrame(valid), { 'grpc-encoding': 'gzip' });
    assert.equal(zipped.status, grpc.status.OK, zipped.message);
    const res = rankRequest.Rank.responseDeserialize(zipped.messages[0]) as { items: unknown[] };
    assert.equal(res.items.length, 3);
    // Unknown fields of every wire type, and a well-formed unknown group, are skipped.
    const unknown = Buffer.concat([valid, tag(50, 0), Buffer.from([7]), tag(51, 1), Buffer.alloc(8), tag(52, 5), Buffer.alloc(4), tag(53, 2), Buffer.from([1, 9]), tag(54, 3), tag(55, 0), Buffer.from([1]), tag(54, 4)]);
    const skipped = await rawCall(h.grpcPort, RANK, frame(unknown));
    assert.equal(skipped.status, grpc.status.OK, skipped.message);
  });
});
