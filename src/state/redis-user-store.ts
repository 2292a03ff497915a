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
// events is one MULTI transaction per user: acknowledged once Redis
// acknowledged them (durability is then Redis's: appendfsync everysec or
// always). The same code serves a Redis Cluster (`cluster`).
import { createClient, createCluster } from 'redis';

import { ACTION } from '../models/schema';
import type { UserSnapshot } from './snapshot';
import { USER_STORE_DEFAULTS, validateEvents } from './user-store';
import type { ApplyResult, EngineEvent, UserStore } from './user-store';

export interface RedisUserStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS); with `cluster`, any node of the Cluster. */
  url: string;
  /** A Redis Cluster: the other nodes are found from `url`; each user's keys live in one slot. */
  cluster?: boolean;
  maxActions?: number;
  purchaseWindowMs?: number;
  seenTtlMs?: number;
  /** Users whose answers the local cache keeps (0: no local cache). */
  cacheEntries?: number;
  /** Milliseconds a command may take before it fails (the request's deadline bounds it too). */
  commandTimeoutMs?: number;
}

/** What the store uses of a client, the same for a server and for a Cluster. */
interface Multi {
  zAdd(key: string, member: { score: number; value: string }, options?: { GT?: true; CH?: true }): Multi;
  zRemRangeByRank(key: string, start: number, stop: number): Multi;
  zRemRangeByScore(key: string, min: string, max: string): Multi;
  pExpire(key: string, ms: number): Multi;
  exec(): Promise<unknown[]>;
}
interface Conn {
  zRangeWithScores(key: string, start: number, stop: number): Promise<{ value: string; score: number }[]>;
  /** A transaction; `routing` (a key) picks the Cluster node. */
  multi(routing: string): Multi;
  close(): Promise<void>;
  readonly isOpen: boolean;
}

const key = (userId: string, kind: 'a' | 'p' | 's') => `u:{${userId}}:${kind}`;

/** Reads a ZRANGE WITHSCORES reply (member = row, score = time) into a row -> time map, from `horizon` on. */
function rowsFrom(reply: { value: string; score: number }[], horizon: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const { value, score } of reply) if (score >= horizon) out.set(Number(value), score);
  return out;
}

/** The URL's user and password (every Cluster node takes them; the nodes' addresses come from the Cluster). */
function credentials(url: string): { username?: string; password?: string } {
  const u = new URL(url);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

export class RedisUserStore implements UserStore {
  private readonly maxActions: number;
  private readonly purchaseWindowMs: number;
  private readonly seenTtlMs: number;

  private constructor(
    private readonly client: Conn,
    opts: RedisUserStoreOptions,
  ) {
    this.maxActions = opts.maxActions ?? USER_STORE_DEFAULTS.maxActions;
    this.purchaseWindowMs = opts.purchaseWindowMs ?? USER_STORE_DEFAULTS.purchaseWindowMs;
    this.seenTtlMs = opts.seenTtlMs ?? USER_STORE_DEFAULTS.seenTtlMs;
  }

  /** Connects (RESP3, with the local cache unless cacheEntries is 0); throws when Redis cannot be reached. */
  static async connect(opts: RedisUserStoreOptions): Promise<RedisUserStore> {
    const entries = opts.cacheEntries ?? 100_000;
    const cache = entries > 0 ? { clientSideCache: { maxEntries: 3 * entries, evictPolicy: 'LRU' as const } } : {};
    const node = {
      commandOptions: { timeout: opts.commandTimeoutMs ?? 1000 },
      // While reconnecting, commands fail at once (Rank degrades, RecordEvents is UNAVAILABLE) instead of waiting.
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000), ...(opts.url.startsWith('rediss:') ? { tls: true as const } : {}) },
    };
    const client = opts.cluster
      ? createCluster({ rootNodes: [{ url: opts.url }], RESP: 3, ...cache, defaults: { ...credentials(opts.url), ...node } })
      : createClient({ url: opts.url, RESP: 3, ...cache, ...node });
    // Errors surface on the commands; without a listener they would crash the process.
    client.on('error', () => undefined);
    await client.connect();
    return new RedisUserStore(client as unknown as Conn, opts);
  }

  /**
   * One MULTI per user (a user's keys share a slot, so this works on a
   * Cluster too), all sent together; resolves once Redis acknowledged every one.
   */
  async apply(events: readonly EngineEvent[], now: number): Promise<ApplyResult> {
    validateEvents(events);
    const byUser = new Map<string, EngineEvent[]>();
    for (const e of events) {
      const list = byUser.get(e.userId);
      if (list) list.push(e);
      else byUser.set(e.userId, [e]);
    }
    const counts = await Promise.all([...byUser].map(([u, evs]) => this.applyUser(u, evs, now)));
    return { applied: counts.reduce((a, b) => a + b, 0) };
  }

  /** One user's events in one transaction, with the bounds; returns the events that changed the state. */
  private async applyUser(u: string, events: readonly EngineEvent[], now: number): Promise<number> {
    const purchaseHorizon = now - this.purchaseWindowMs;
    const seenHorizon = now - this.seenTtlMs;
    const multi = this.client.multi(key(u, 'a'));
    // Per event, the index of the reply that says whether it changed the state.
    const counted: number[] = [];
    let n = 0;
    for (const e of events) {
      if (e.action === ACTION.impression) {
        if (e.ts < seenHorizon) continue;
        multi.zAdd(key(u, 's'), { score: e.ts, value: String(e.row) }, { GT: true, CH: true });
        counted.push(n++);
      } else {
        multi.zAdd(key(u, 'a'), { score: e.ts, value: `${e.row}:${e.action}:${e.ts}` });
        counted.push(n++);
        if (e.action === ACTION.purchase && e.ts >= purchaseHorizon) {
          multi.zAdd(key(u, 'p'), { score: e.ts, value: String(e.row) }, { GT: true, CH: true });
          n++;
        }
      }
    }
    // Bounds, enforced by Redis: the last maxActions actions, the windows, expiry.
    multi.zRemRangeByRank(key(u, 'a'), 0, -this.maxActions - 1);
    multi.zRemRangeByScore(key(u, 'p'), '-inf', `(${purchaseHorizon}`);
    multi.pExpire(key(u, 'p'), Math.max(1, Math.ceil(this.purchaseWindowMs)));
    multi.zRemRangeByScore(key(u, 's'), '-inf', `(${seenHorizon}`);
    multi.pExpire(key(u, 's'), Math.max(1, Math.ceil(this.seenTtlMs)));
    const replies = await multi.exec();
    let applied = 0;
    for (const i of counted) if (Number(replies[i]) > 0) applied++;
    return applied;
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
