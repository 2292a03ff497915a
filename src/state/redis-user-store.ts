// The user store in Redis, shared by every replica: a click recorded through
// one replica changes what every other replica serves on its next call.
//
// Keys carry the user id as a hash tag, so all of a user's keys share one
// Cluster slot:
//   u:{id}:a   sorted set of the last maxActions non-impression actions,
//              member "item:code:ts", score ts (trimmed by rank on write)
//   u:{id}:p   sorted set item -> purchase time (GT: the latest), trimmed to
//              the purchase window on write, expires with it
//   u:{id}:s   sorted set item -> impression time, trimmed to the seen TTL on
//              write, expires with it
// Items are named by id (the engine passes its catalog): rows differ between
// bundles and between replicas, ids do not. A snapshot drops the items the
// reading catalog does not have (deleted since). Without a catalog (tests of
// the store alone) the row number is the name.
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
import type { ApplyResult, EngineEvent, ItemIds, UserStore } from './user-store';
import type { ItemCounter, ItemCounts } from './shared-item-stats';

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
  hIncrBy(key: string, field: string, by: number): Promise<number>;
  pExpire(key: string, ms: number): Promise<number>;
  hmGet(key: string, fields: string[]): Promise<(string | null)[]>;
  zRangeWithScores(key: string, start: number, stop: number): Promise<{ value: string; score: number }[]>;
  /** A transaction; `routing` (a key) picks the Cluster node. */
  multi(routing: string): Multi;
  close(): Promise<void>;
  readonly isOpen: boolean;
}

const key = (userId: string, kind: 'a' | 'p' | 's') => `u:{${userId}}:${kind}`;
/** A new item's shared click counts: hash of i (impressions) and c (clicks), its own slot. */
const itemKey = (itemId: string) => `i:{${itemId}}`;

/** An item's name in Redis: its id in `items`, else the row. */
const nameOf = (row: number, items?: ItemIds): string => (items ? items.ids[row] : String(row));

/** A name's row in `items` (undefined: not in this catalog), else the row it is. */
function rowOfName(name: string, items?: ItemIds): number | undefined {
  if (items) return items.rowOf.get(name);
  const row = Number(name);
  return Number.isInteger(row) && row >= 0 ? row : undefined;
}

/** Reads a ZRANGE WITHSCORES reply (member = item, score = time) into a row -> time map, from `horizon` on. */
function rowsFrom(reply: { value: string; score: number }[], horizon: number, items?: ItemIds): Map<number, number> {
  const out = new Map<number, number>();
  for (const { value, score } of reply) {
    if (score < horizon) continue;
    const row = rowOfName(value, items);
    if (row !== undefined) out.set(row, score);
  }
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

export class RedisUserStore implements UserStore, ItemCounter {
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
  async apply(events: readonly EngineEvent[], now: number, items?: ItemIds): Promise<ApplyResult> {
    validateEvents(events);
    const byUser = new Map<string, EngineEvent[]>();
    for (const e of events) {
      const list = byUser.get(e.userId);
      if (list) list.push(e);
      else byUser.set(e.userId, [e]);
    }
    const counts = await Promise.all([...byUser].map(([u, evs]) => this.applyUser(u, evs, now, items)));
    return { applied: counts.reduce((a, b) => a + b, 0) };
  }

  /** One user's events in one transaction, with the bounds; returns the events that changed the state. */
  private async applyUser(u: string, events: readonly EngineEvent[], now: number, items?: ItemIds): Promise<number> {
    const purchaseHorizon = now - this.purchaseWindowMs;
    const seenHorizon = now - this.seenTtlMs;
    const multi = this.client.multi(key(u, 'a'));
    // Per event, the index of the reply that says whether it changed the state.
    const counted: number[] = [];
    let n = 0;
    for (const e of events) {
      const item = nameOf(e.row, items);
      if (e.action === ACTION.impression) {
        if (e.ts < seenHorizon) continue;
        multi.zAdd(key(u, 's'), { score: e.ts, value: item }, { GT: true, CH: true });
        counted.push(n++);
      } else {
        multi.zAdd(key(u, 'a'), { score: e.ts, value: `${item}:${e.action}:${e.ts}` });
        counted.push(n++);
        if (e.action === ACTION.purchase && e.ts >= purchaseHorizon) {
          multi.zAdd(key(u, 'p'), { score: e.ts, value: item }, { GT: true, CH: true });
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

  async snapshot(userId: string, now: number, items?: ItemIds): Promise<UserSnapshot> {
    const [actions, purchased, seen] = await Promise.all([
      this.client.zRangeWithScores(key(userId, 'a'), 0, -1),
      this.client.zRangeWithScores(key(userId, 'p'), 0, -1),
      this.client.zRangeWithScores(key(userId, 's'), 0, -1),
    ]);
    // Member "item:code:ts": the item id may hold ':' itself.
    const rows: number[] = [];
    const codes: number[] = [];
    const times: number[] = [];
    for (const { value, score } of actions.slice(Math.max(0, actions.length - this.maxActions))) {
      const end = value.lastIndexOf(':');
      const mid = value.lastIndexOf(':', end - 1);
      const row = rowOfName(value.slice(0, mid), items);
      if (row === undefined) continue;
      rows.push(row);
      codes.push(Number(value.slice(mid + 1, end)));
      times.push(score);
    }
    return {
      actionRows: Int32Array.from(rows),
      actionCodes: Uint8Array.from(codes),
      actionTimes: Float64Array.from(times),
      purchased: rowsFrom(purchased, now - this.purchaseWindowMs, items),
      seen: rowsFrom(seen, now - this.seenTtlMs, items),
    };
  }

  /** Adds to the new items' counts (pipelined; each item's key expires `ttlMs` after its last write). */
  async countItems(counts: ReadonlyMap<string, ItemCounts>, ttlMs: number): Promise<void> {
    const writes: Promise<number>[] = [];
    for (const [id, c] of counts) {
      if (c.impressions > 0) writes.push(this.client.hIncrBy(itemKey(id), 'i', c.impressions));
      if (c.clicks > 0) writes.push(this.client.hIncrBy(itemKey(id), 'c', c.clicks));
      writes.push(this.client.pExpire(itemKey(id), Math.max(1, Math.ceil(ttlMs))));
    }
    await Promise.all(writes);
  }

  async itemCounts(ids: readonly string[]): Promise<ItemCounts[]> {
    const replies = await Promise.all(ids.map((id) => this.client.hmGet(itemKey(id), ['i', 'c'])));
    return replies.map(([i, c]) => ({ impressions: Number(i ?? 0), clicks: Number(c ?? 0) }));
  }

  /** Users are not counted in Redis (it would take a scan); -1. */
  size(): number {
    return -1;
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}
