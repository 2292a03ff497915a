// The Redis user store's client cost per snapshot, with and without the
// local (client-side) cache, for users that miss it (10k distinct users,
// each read once per pass) and hot users (100 users read again and again).
// Needs a Redis holding users named like the W2 world's (the server seeds
// them with --user-store); reads only.
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
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
