// The Redis user store's client cost per snapshot, with and without the
// local (client-side) cache, for users that miss it (10k distinct users,
// each read once per pass) and hot users (100 users read again and again);
// then RecordEvents-sized writes: events per second acknowledged by Redis
// for batches of 1, 10 and 100 events (one user each, as RecordEvents calls
// from many users), one batch at a time and 16 in flight. The reads use
// users of their own (bench-r-*: 30 actions, 20 impressions and a purchase
// each, over a catalog of 100k item ids, written first); the writes too
// (bench-w-*). Then Redis's memory per user for the bench-r users. First, the
// floor under any client: the same GETs written and read on a bare socket
// (RESP by hand, no client library), one at a time.
//
//   node dist/bench/redis-store.js [--url redis://127.0.0.1:6379] [--calls 5000]
import * as net from 'node:net';
import { parseArgs } from 'node:util';

import { createClient } from 'redis';

import { ACTION } from '../src/models/schema';
import { RedisUserStore } from '../src/state/redis-user-store';
import type { EngineEvent, ItemIds } from '../src/state/user-store';

const USERS = 10_000;
const ids = Array.from({ length: 100_000 }, (_, i) => `item-${String(i).padStart(7, '0')}`);
const CATALOG: ItemIds = { ids, rowOf: new Map(ids.map((id, i) => [id, i])) };

/** Writes the read bench's users (the history a returning user has) and returns Redis's dataset bytes per user. */
async function seedReaders(url: string, now: number): Promise<number> {
  const raw = createClient({ url });
  await raw.connect();
  const dataset = async () => Number(/used_memory_dataset:(\d+)/.exec(await raw.info('memory'))?.[1] ?? NaN);
  const before = await dataset();
  const store = await RedisUserStore.connect({ url, cacheEntries: 0 });
  for (let u = 0; u < USERS; u++) {
    const ev: EngineEvent[] = [];
    const userId = `bench-r-${u}`;
    for (let k = 0; k < 30; k++) ev.push({ userId, row: (u * 31 + k * 7) % ids.length, action: ([ACTION.click, ACTION.wishlist, ACTION.cart] as const)[k % 3], ts: now - 1e7 + k * 1000 });
    for (let k = 0; k < 20; k++) ev.push({ userId, row: (u * 17 + k * 3) % ids.length, action: ACTION.impression, ts: now - 1e5 + k });
    ev.push({ userId, row: (u * 5) % ids.length, action: ACTION.purchase, ts: now - 1e4 });
    await store.apply(ev, now, CATALOG);
  }
  await store.close();
  const perUser = ((await dataset()) - before) / USERS;
  await raw.close();
  return perUser;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: 'string', default: 'redis://127.0.0.1:6379' }, calls: { type: 'string', default: '5000' } } });
  const n = Number(values.calls);
  const now = Date.now();
  const perUser = await seedReaders(values.url!, now);
  console.log(`Redis dataset per user (30 actions, 20 impressions, 1 purchase): ${perUser.toFixed(0)} bytes; 10M users: ${((perUser * 1e7) / 2 ** 30).toFixed(1)} GiB`);
  const id = (i: number) => `bench-r-${i}`;
  const floor = await bareGets(values.url!, n, (i) => `u:{${id((i * 7) % USERS)}}`);
  console.log(`bare socket GET (no client library), distinct users: ${floor.wallUs.toFixed(0)} µs wall, ${floor.cpuUs.toFixed(0)} µs CPU per round trip`);
  for (const cacheEntries of [0, 100_000]) {
    const store = await RedisUserStore.connect({ url: values.url!, cacheEntries });
    try {
      for (const [label, users] of [['distinct users (10k)', USERS], ['hot users (100)', 100]] as const) {
        for (let i = 0; i < 2000; i++) await store.snapshot(id(i % users), now, CATALOG);
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) await store.snapshot(id((i * 7) % users), now, CATALOG);
        const wallUs = Number(process.hrtime.bigint() - t0) / 1e3 / n;
        const c = process.cpuUsage(c0);
        console.log(`local cache ${cacheEntries > 0 ? 'on' : 'off'}, ${label}: ${wallUs.toFixed(0)} µs wall, ${((c.user + c.system) / n).toFixed(0)} µs client CPU per snapshot`);
      }
    } finally {
      await store.close();
    }
  }
  await writes(values.url!, n);
}

/** `n` GETs one at a time on a plain TCP socket (the command and the bulk reply by hand): the round trip's own cost. */
async function bareGets(url: string, n: number, key: (i: number) => string): Promise<{ wallUs: number; cpuUs: number }> {
  const u = new URL(url);
  const sock = net.connect(Number(u.port || 6379), u.hostname);
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  let buf: Buffer = Buffer.alloc(0);
  let onReply: () => void = () => undefined;
  sock.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    const nl = buf.indexOf('\r\n');
    if (nl < 0) return;
    const len = Number(buf.toString('latin1', 1, nl));
    if (len >= 0 && buf.length < nl + 2 + len + 2) return; // the rest of the bulk string is still coming
    if (len >= 0) buf.toString('utf8', nl + 2, nl + 2 + len); // decoded, as a client would
    buf = Buffer.alloc(0);
    onReply();
  });
  const get = (k: string) =>
    new Promise<void>((resolve) => {
      onReply = resolve;
      sock.write(`*2\r\n$3\r\nGET\r\n$${Buffer.byteLength(k)}\r\n${k}\r\n`);
    });
  for (let i = 0; i < 1000; i++) await get(key(i));
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await get(key(i));
  const wallUs = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  const c = process.cpuUsage(c0);
  sock.destroy();
  return { wallUs, cpuUs: (c.user + c.system) / n };
}

/** Events per second through apply(): batches of `size` events of distinct users, `inFlight` batches at a time. */
async function writes(url: string, n: number): Promise<void> {
  const store = await RedisUserStore.connect({ url, cacheEntries: 0 });
  try {
    for (const size of [1, 10, 100]) {
      for (const inFlight of [1, 16]) {
        const batches = Math.max(inFlight, Math.floor(n / size));
        let next = 0;
        const t0 = process.hrtime.bigint();
        const c0 = process.cpuUsage();
        const worker = async () => {
          for (let b = next++; b < batches; b = next++) {
            const now = Date.now();
            await store.apply(Array.from({ length: size }, (_, i) => ({ userId: `bench-w-${(b * size + i) % 20_000}`, row: (b * 7 + i) % 100_000, action: ACTION.click, ts: now + i })), now, CATALOG);
          }
        };
        await Promise.all(Array.from({ length: inFlight }, worker));
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        const c = process.cpuUsage(c0);
        const events = batches * size;
        console.log(`writes: batches of ${size} event(s) of distinct users, ${inFlight} in flight: ${(events / s).toFixed(0)} events/s, ${((c.user + c.system) / events).toFixed(0)} µs client CPU per event`);
      }
    }
  } finally {
    await store.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
