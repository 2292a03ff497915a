// The catalog stream's transport (redis-catalog-stream.ts) against a
// redis-server and a 3-node Redis Cluster: entries come back in append order
// with their changes, the head follows the appends through the client-side
// cache, a follower sees entries appended by another connection, and a
// reader that starts late reads everything from the start.
import { strict as assert } from 'node:assert';

import type { CatalogChange } from '../../src/catalog/catalog-log';
import { compareIds, RedisCatalogStream, StreamEntry } from '../../src/catalog/redis-catalog-stream';
import { redisForSuite, startRedis, startRedisCluster } from '../state/redis-server';
import type { TestRedis } from '../state/redis-server';

const base = { version: 'v1', createdAt: '2026-01-01T00:00:00Z' };
const del = (id: string): CatalogChange => ({ op: 'delete', ts: 1000, bundle: base, id });
const up = (id: string): CatalogChange => ({
  op: 'upsert',
  ts: 2000,
  bundle: base,
  item: { id, brand: 'b', category: 'c', price: 2.5, createdAt: 1500, contentHash: 'h', bias: 0.25, embedding: Float32Array.from([0.5, -1, 2]) },
});

function contract(name: string, start: () => Promise<TestRedis | null>, cluster: boolean): void {
  describe(`catalog stream: ${name}`, function () {
    this.timeout(60_000);
    const redis = redisForSuite(start);
    const open: RedisCatalogStream[] = [];
    const connect = async () => {
      const s = await RedisCatalogStream.connect({ url: redis().url, cluster });
      open.push(s);
      return s;
    };
    after(async () => {
      await Promise.all(open.map((s) => s.close()));
    });

    it('appends in order, moves the head, and a follower on another connection sees every entry in order', async () => {
      const [writer, follower] = [await connect(), await connect()];
      const start = await writer.head();
      const got: StreamEntry[] = [];
      follower.follow(start, async (e) => void got.push(e), () => undefined);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await writer.append('replica-a', i, i % 2 === 0 ? [del(`x${i}`)] : [up(`y${i}`), del(`z${i}`)]));
      for (let i = 1; i < ids.length; i++) assert.ok(compareIds(ids[i - 1], ids[i]) < 0, 'ids increase');
      assert.equal(await writer.head(), ids[4], 'the head is the last entry');
      assert.equal(await follower.head(), ids[4], 'the other connection\'s cached head was invalidated');
      const until = Date.now() + 5000;
      while (got.length < 5 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got.map((e) => e.id), ids);
      assert.deepEqual(got.map((e) => e.call), [0, 1, 2, 3, 4]);
      assert.equal(got[1].origin, 'replica-a');
      assert.deepEqual(got[1].changes, [up('y1'), del('z1')], 'changes come back as appended (embedding included)');
      const late = await connect();
      const all = await late.readFrom('0-0');
      assert.deepEqual(all.slice(-5).map((e) => e.id), ids, 'a late reader reads every entry from the start');
      assert.deepEqual(await late.readFrom(ids[2]), all.slice(-2), 'or from after an id');
    });
  });
}

contract('redis-server', () => startRedis(), false);
contract('3-node Redis Cluster', startRedisCluster, true);

describe('catalog stream ids', () => {
  it('compare by time, then sequence', () => {
    assert.ok(compareIds('10-0', '9-5') > 0);
    assert.ok(compareIds('10-1', '10-2') < 0);
    assert.equal(compareIds('10-2', '10-2'), 0);
    assert.ok(compareIds('0-0', '1-0') < 0);
  });
});
