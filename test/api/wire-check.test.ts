import { strict as assert } from 'node:assert';
import type * as grpc from '@grpc/grpc-js';

import { loadProto, SERVICE_NAME } from '../../src/api/proto';
import { checkWire, WireFormatError, wireSchema } from '../../src/api/wire-check';
import { mulberry32 } from '../../src/util/random';

type Methods = Record<string, grpc.MethodDefinition<object, object>>;

describe('server/wire-check: strict wire format of request messages', () => {
  const def = loadProto();
  const schema = wireSchema(def);
  const methods = def[SERVICE_NAME] as unknown as Methods;
  const r = mulberry32(7);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const str = () => pick(['', 'user-000001', 'item-0000001', 'ü🙂 ok', 'x'.repeat(300), '\u0000\uffff']);
  const int64 = () => pick([0, 1, -1, -1e12, 1e13, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);
  const many = <T>(f: () => T): T[] => Array.from({ length: Math.floor(r() * 6) }, f);

  const requests: Record<string, () => object> = {
    Rank: () => ({
      user_id: str(),
      context: { surface: pick(['SURFACE_HOME', 'SURFACE_PDP']), device: 'DEVICE_APP', country: str(), category: str(), query: str() },
      recent_actions: many(() => ({ item_id: str(), type: 'ACTION_TYPE_CLICK', timestamp_ms: int64() })),
      candidate_ids: many(str),
      num_results: pick([0, 1, 200, 4294967295]),
      objective_weights: { click: r(), purchase: -r() },
      options: { retrieval_k: 7, heavy_budget: r(), diversity: 'DIVERSITY_METHOD_DPP', diversity_lambda: 0, exploration_epsilon: 1, exclude_item_ids: many(str), seed: pick([0, 1, Number.MAX_SAFE_INTEGER]) },
      debug: r() < 0.5,
      latency_budget_ms: 12,
    }),
    RecordEvents: () => ({ events: many(() => ({ user_id: str(), item_id: str(), type: 'ACTION_TYPE_PURCHASE', timestamp_ms: int64() })) }),
    UpsertItems: () => ({ items: many(() => ({ item_id: str(), brand: str(), category: str(), price: r() * 100, created_at_ms: int64(), content_hash: str(), embedding: many(() => r() - 0.5), bias: -r() })) }),
    DeleteItems: () => ({ item_ids: many(str) }),
    ReloadBundle: () => ({ path: str() }),
  };

  it('accepts 500 random valid requests of every method, as protobufjs encodes them', () => {
    for (const [method, make] of Object.entries(requests)) {
      const typeName = `ranking.v1.${method}Request`;
      for (let i = 0; i < 100; i++) {
        const bytes = methods[method].requestSerialize(make());
        assert.doesNotThrow(() => checkWire(schema, typeName, bytes), `${method} #${i}`);
      }
    }
  });

  it('accepts the unpacked encoding of a repeated float and a packed one', () => {
    // UpsertItemsRequest{items: [Item{embedding: [1, 2]}]}, field 7 of Item as two fixed32 values, then packed.
    const f32 = (v: number) => {
      const b = Buffer.alloc(4);
      b.writeFloatLE(v);
      return b;
    };
    const unpacked = Buffer.concat([Buffer.from([0x3d]), f32(1), Buffer.from([0x3d]), f32(2)]);
    const packed = Buffer.concat([Buffer.from([0x3a, 8]), f32(1), f32(2)]);
    for (const item of [unpacked, packed]) {
      const req = Buffer.concat([Buffer.from([0x0a, item.length]), item]);
      checkWire(schema, 'ranking.v1.UpsertItemsRequest', req);
      const decoded = methods.UpsertItems.requestDeserialize(req) as { items: { embedding: number[] }[] };
      assert.deepEqual(decoded.items[0].embedding, [1, 2]);
    }
    // A packed float payload that is not a multiple of 4 bytes.
    const bad = Buffer.concat([Buffer.from([0x0a, 7, 0x3a, 5]), f32(1), Buffer.from([0])]);
    assert.throws(() => checkWire(schema, 'ranking.v1.UpsertItemsRequest', bad), /packed field embedding \(7\) at byte 4 holds 5 bytes, not a multiple of 4/);
  });

  it('names the field, its wire type and the byte of the first problem', () => {
    const cases: [string, number[], RegExp][] = [
      ['ranking.v1.ReloadBundleRequest', [0x08, 0x01], /^field path \(1\) has wire type varint at byte 0, expected length-delimited$/],
      ['ranking.v1.DeleteItemsRequest', [0x0a, 0x05, 0x61], /^field item_ids \(1\) needs 5 bytes at byte 2, 1 are left$/],
      ['ranking.v1.DeleteItemsRequest', [0x00], /^invalid field number 0 at byte 0$/],
      ['ranking.v1.DeleteItemsRequest', [0x0f], /^field item_ids \(1\) has wire type invalid \(7\) at byte 0, expected length-delimited$/],
      ['ranking.v1.DeleteItemsRequest', [0xa4, 0x06], /^an end-group tag for field 100 at byte 0 closes no open group$/],
      ['ranking.v1.DeleteItemsRequest', [0xa3, 0x06, 0xac, 0x06], /^an end-group tag for field 101 at byte 2 closes no open group$/],
      ['ranking.v1.RecordEventsRequest', [0x0a, 0x02, 0x20, 0xff], /^field timestamp_ms \(4\) is truncated at byte 4$/],
      ['ranking.v1.RankRequest', [0x28, ...Array(11).fill(0xff)], /^field num_results \(5\) is a varint longer than 10 bytes/],
    ];
    for (const [type, bytes, message] of cases) {
      assert.throws(() => checkWire(schema, type, Buffer.from(bytes)), (err: unknown) => err instanceof WireFormatError && message.test(err.message), `${type} ${Buffer.from(bytes).toString('hex')}`);
    }
  });
});
