// The Redis user store's client cost per snapshot, with and without the
// local (client-side) cache, for users that miss it (10k distinct users,
// each read once per pass) and hot users (100 users read again and again);
// then RecordEvents-sized writes: events per second acknowledged by Redis
// for batches of 1, 10 and 100 events (one user each, as RecordEvents calls
// from many users), one batch at a time and 16 in flight. The reads want a
// Redis holding users named like the W2 world's (the server seeds them with
// --user-store); the writes go to users of their own (bench-w-*).
//
//   node dist/bench/redis-store.js [--url redis://127.0.0.1:6379] [--calls 5000]
import { parseArgs } from 'node:util';

import { RedisUserStore } from '../src/state/redis-user-store';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: 'string', default: 'redis://127.0.0.1:6379' }, calls: { type: 'string', default: '5000' } } });
  const n = Number(values.calls);
  const now = Date.now();
  const id = (i: number) => `user-${String(i).padStart(6, '0')}`;
  for (const cacheEntries of [0, 100_000]) {
    const store = await RedisUserStore.connect({ url: values.url!, cacheEntries });
    try {
      for (const [label, users] of [['distinct users (10k)', 10_000], ['hot users (100)', 100]] as const) {
        for (let i = 0; i < 2000; i++) await store.snapshot(id(i % users), now);
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) await store.snapshot(id((i * 7) % users), now);
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
            await store.apply(Array.from({ length: size }, (_, i) => ({ userId: `bench-w-${(b * size + i) % 20_000}`, row: (b * 7 + i) % 100_000, action: 2 as const, ts: now + i })), now);
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
