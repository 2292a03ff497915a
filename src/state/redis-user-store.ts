// The user store in Redis, shared by every replica: a click recorded through
// one replica changes what every other replica serves on its next call.
//
// Keys carry the user id as a hash tag, so all of a user's keys share one
// Cluster slot:
//   u:{id}:a   sorted set of the last maxActions non-impression actions,
//              member "row:code:ts", score ts (trimmed by rank on write)
//   u:{id}:p   sorted set row -> purchase time (GT: the latest), trimmed to
//              the purchase window on write, expires with it
//   u:{id}:s   sorted set row -> impression time, trimmed to the seen TTL on
//              write, expires with it
// A snapshot is three reads sent together (one round trip); with RESP3 the
// client keeps them in a local cache that Redis invalidates (client
// tracking) when any replica writes the user, so a hot user costs no round
// trip and a changed one is never served stale. The horizons are applied
// when reading, so the cached answers do not depend on the time. A batch of
// events is one MULTI transaction: acknowledged once Redis acknowledged it
// (durability is then Redis's: appendfsync everysec or always).
import { createClient } from 'redis';

import { ACTION } from '../models/schema';
import type { UserSnapshot } from './snapshot';
import { USER_STORE_DEFAULTS, validateEvents } from './user-store';
import type { ApplyResult, EngineEvent, UserStore } from './user-store';

export interface RedisUserStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS). */
  url: string;
  maxActions?: number;
  purchaseWindowMs?: number;
  seenTtlMs?: number;
  /** Users whose answers the local cache keeps (0: no local cache). */
  cacheEntries?: number;
  /** Milliseconds a command may take before it fails (the request's deadline bounds it too). */
  commandTimeoutMs?: number;
}

type Client = ReturnType<typeof createClient>;

const key = (userId: string, kind: 'a' | 'p' | 's') => `u:{${userId}}:${kind}`;

/** Reads a WITHSCORES reply (RESP3: [member, score] pairs) into a row -> time map, from `horizon` on. */
function rowsFrom(reply: { value: string; score: number }[], horizon: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const { value, score } of reply) if (score >= horizon) out.set(Number(value), score);
  return out;
}

export class RedisUserStore implements UserStore {
  private readonly maxActions: number;
  private readonly purchaseWindowMs: number;
  private readonly seenTtlMs: number;

  private constructor(
    private readonly client: Client,
    opts: RedisUserStoreOptions,
  ) {
    this.maxActions = opts.maxActions ?? USER_STORE_DEFAULTS.maxActions;
    this.purchaseWindowMs = opts.purchaseWindowMs ?? USER_STORE_DEFAULTS.purchaseWindowMs;
    this.seenTtlMs = opts.seenTtlMs ?? USER_STORE_DEFAULTS.seenTtlMs;
  }

  /** Connects (RESP3, with the local cache unless cacheEntries is 0); throws when Redis cannot be reached. */
  static async connect(opts: RedisUserStoreOptions): Promise<RedisUserStore> {
    const entries = opts.cacheEntries ?? 100_000;
    const client = createClient({
      url: opts.url,
      RESP: 3,
      ...(entries > 0 ? { clientSideCache: { maxEntries: 3 * entries, evictPolicy: 'LRU' as const } } : {}),
      commandOptions: { timeout: opts.commandTimeoutMs ?? 1000 },
      // While reconnecting, commands fail at once (Rank degrades, RecordEvents is UNAVAILABLE) instead of waiting.
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
    });
    // Errors surface on the commands; without a listener they would crash the process.
    client.on('error', () => undefined);
    await client.connect();
    return new RedisUserStore(client as Client, opts);
  }

  async apply(events: readonly EngineEvent[], now: number): Promise<ApplyResult> {
    validateEvents(events);
    if (events.length === 0) return { applied: 0 };
    const purchaseHorizon = now - this.purchaseWindowMs;
    const seenHorizon = now - this.seenTtlMs;
    const multi = this.client.multi();
    // Per event, the index of the reply that says whether it changed the state.
    const counted: number[] = [];
    let n = 0;
    const users = new Set<string>();
    for (const e of events) {
      users.add(e.userId);
      if (e.action === ACTION.impression) {
        if (e.ts < seenHorizon) continue;
        multi.zAdd(key(e.userId, 's'), { score: e.ts, value: String(e.row) }, { GT: true, CH: true });
        counted.push(n++);
      } else {
        multi.zAdd(key(e.userId, 'a'), { score: e.ts, value: `${e.row}:${e.action}:${e.ts}` });
        counted.push(n++);
        if (e.action === ACTION.purchase && e.ts >= purchaseHorizon) {
          multi.zAdd(key(e.userId, 'p'), { score: e.ts, value: String(e.row) }, { GT: true, CH: true });
          n++;
        }
      }
    }
    // Bounds, enforced by Redis: the last maxActions actions, the windows, expiry.
    for (const u of users) {
      multi.zRemRangeByRank(key(u, 'a'), 0, -this.maxActions - 1);
      multi.zRemRangeByScore(key(u, 'p'), '-inf', `(${purchaseHorizon}`);
      multi.pExpire(key(u, 'p'), Math.max(1, Math.ceil(this.purchaseWindowMs)));
      multi.zRemRangeByScore(key(u, 's'), '-inf', `(${seenHorizon}`);
      multi.pExpire(key(u, 's'), Math.max(1, Math.ceil(this.seenTtlMs)));
    }
    const replies = (await multi.exec()) as unknown[];
    let applied = 0;
    for (const i of counted) if (Number(replies[i]) > 0) applied++;
    return { applied };
  }

  async snapshot(userId: string, now: number): Promise<UserSnapshot> {
    const [actions, purchased, seen] = await Promise.all([
      this.client.zRangeWithScores(key(userId, 'a'), 0, -1),
      this.client.zRangeWithScores(key(userId, 'p'), 0, -1),
      this.client.zRangeWithScores(key(userId, 's'), 0, -1),
    ]);
    const last = actions.slice(Math.max(0, actions.length - this.maxActions));
    const snap: UserSnapshot = {
      actionRows: new Int32Array(last.length),
      actionCodes: new Uint8Array(last.length),
      actionTimes: new Float64Array(last.length),
      purchased: rowsFrom(purchased, now - this.purchaseWindowMs),
      seen: rowsFrom(seen, now - this.seenTtlMs),
    };
    last.forEach(({ value, score }, i) => {
      const [row, code] = value.split(':');
      snap.actionRows[i] = Number(row);
      snap.actionCodes[i] = Number(code);
      snap.actionTimes[i] = score;
    });
    return snap;
  }

  /** Users are not counted in Redis (it would take a scan); -1. */
  size(): number {
    return -1;
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}
