// The user store in Redis, shared by every replica: a click recorded through
// one replica changes what every other replica serves on its next call.
//
// One key per user, u:{id}, a string of lines (so a Rank reads the user
// with one GET, and the key lives in one Cluster slot):
//   a|<ts>|<code>|<item>   an action (not an impression); the last
//                          maxActions, oldest first
//   p|<ts>|<item>          the latest purchase of an item within the window
//   s|<ts>|<item>          the latest impression of an item within the seen TTL
// Writes go through a Lua script (user-store.lua below) that reads the
// lines, adds a batch's events (an exact repeat of an action, or an older
// time of a seen or purchased item, changes nothing), drops what is past the
// bounds and writes the key back with an expiry of the longer window: Redis
// enforces the bounds itself, and a user idle for the whole purchase window
// is forgotten. With RESP3 the client keeps the GET's answer in a local cache
// that Redis invalidates (client tracking) when any replica writes the user,
// so a hot user costs no round trip; the invalidation is sent as the write is
// made, before the writer is acknowledged, so a changed user is served stale
// only until that push is read here.
// The horizons are applied when reading too, so the cached answers do not
// depend on the time. A batch is one script call per user, acknowledged once
// Redis acknowledged it (durability is then Redis's: appendfsync everysec or
// always). Items are named by id (the engine passes its catalog): rows
// differ between bundles and between replicas, ids do not; a snapshot drops
// the items the reading catalog does not have (deleted since). Without a
// catalog (tests of the store alone) the row number is the name. The same
// code serves a Redis Cluster (`cluster`).
import { createHash } from 'node:crypto';


import { ACTION } from '../models/schema';
import type { UserSnapshot } from './snapshot';
import { redisClient } from './redis-client';
import { within } from '../util/within';
import { USER_STORE_DEFAULTS, validateEvents } from './user-store';
import type { ApplyResult, EngineEvent, ItemIds, UserStore } from './user-store';
import type { ItemCounter, ItemCounts } from './shared-item-stats';

export interface RedisUserStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS); with `cluster`, any node of the Cluster. */
  url: string;
  /** A Redis Cluster: the other nodes are found from `url`; each user's key lives in one slot. */
  cluster?: boolean;
  maxActions?: number;
  purchaseWindowMs?: number;
  seenTtlMs?: number;
  /** Users whose answers the local cache keeps (0: no local cache). */
  cacheEntries?: number;
  /** Milliseconds a read or write may take before it fails (the request's deadline bounds it too). */
  commandTimeoutMs?: number;
}

/**
 * KEYS[1]: the user's key. ARGV: maxActions, purchase horizon, seen
 * horizon, expiry (ms), then one line per change (as stored). Returns, per
 * change, 1 if it changed the state.
 */
const APPLY = `
local maxA, ph, sh, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local acts, have, sets = {}, {}, { p = {}, s = {} }
-- Keeps the latest time of a purchased (p) or seen (s) item within its horizon; true if this one is it.
local function keep(k, ts, item)
  local t = tonumber(ts)
  local prev = sets[k][item]
  if t >= (k == 'p' and ph or sh) and (prev == nil or prev[1] < t) then
    sets[k][item] = { t, k .. '|' .. ts .. '|' .. item }
    return true
  end
  return false
end
local blob = redis.call('GET', KEYS[1])
if blob then
  for line in string.gmatch(blob, '[^\\n]+') do
    local k, ts, rest = string.match(line, '^(.)|([^|]*)|(.*)$')
    if k == 'a' then
      acts[#acts + 1] = { tonumber(ts), line }
      have[line] = true
    else
      keep(k, ts, rest)
    end
  end
end
local changed = {}
for i = 5, #ARGV do
  local e = ARGV[i]
  local k, ts, rest = string.match(e, '^(.)|([^|]*)|(.*)$')
  local ok = 0
  if k == 'a' then
    if not have[e] then
      have[e] = true
      acts[#acts + 1] = { tonumber(ts), e }
      ok = 1
    end
  elseif keep(k, ts, rest) then
    ok = 1
  end
  changed[#changed + 1] = ok
end
table.sort(acts, function(x, y) if x[1] ~= y[1] then return x[1] < y[1] end return x[2] < y[2] end)
local out = {}
for j = math.max(1, #acts - maxA + 1), #acts do out[#out + 1] = acts[j][2] end
for _, k in ipairs({ 'p', 's' }) do for _, v in pairs(sets[k]) do out[#out + 1] = v[2] end end
if #out == 0 then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], table.concat(out, '\\n'), 'PX', ttl) end
return changed
`;
const APPLY_SHA = createHash('sha1').update(APPLY).digest('hex');

/** What the store uses of a client, the same for a server and for a Cluster. */
interface Conn {
  get(key: string): Promise<string | null>;
  evalSha(sha: string, opts: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, opts: { keys: string[]; arguments: string[] }): Promise<unknown>;
  hIncrBy(key: string, field: string, by: number): Promise<number>;
  pExpire(key: string, ms: number): Promise<number>;
  hmGet(key: string, fields: string[]): Promise<(string | null)[]>;
  zAdd(key: string, member: { score: number; value: string }): Promise<number>;
  zRemRangeByScore(key: string, min: string, max: string): Promise<number>;
  zRangeByScore(key: string, min: string, max: string): Promise<string[]>;
  close(): Promise<void>;
  readonly isOpen: boolean;
}

const userKey = (userId: string) => `u:{${userId}}`;
/** A new item's shared click counts: hash of i (impressions) and c (clicks), its own slot. */
const itemKey = (itemId: string) => `i:{${itemId}}`;
/** The items whose counts changed, by the time of the change (the last hour): what a refresh reads again. */
const TOUCHED = 'i:{touched}';
const TOUCHED_KEEP_MS = 3_600_000;

/**
 * An item's name in Redis: its id in `items`, else the row. An id holding a
 * line break (or '%') is percent-encoded behind a '%', so no id can end its
 * line and add lines of its own.
 */
function nameOf(row: number, items?: ItemIds): string {
  if (!items) return String(row);
  const id = items.ids[row];
  return /[\n\r%]/.test(id) ? `%${encodeURIComponent(id)}` : id;
}

/** A name's row in `items` (undefined: not in this catalog), else the row it is. */
function rowOfName(name: string, items?: ItemIds): number | undefined {
  if (items) {
    if (name[0] !== '%') return items.rowOf.get(name);
    try {
      return items.rowOf.get(decodeURIComponent(name.slice(1)));
    } catch {
      return undefined; // not written by this store
    }
  }
  const row = Number(name);
  return Number.isInteger(row) && row >= 0 ? row : undefined;
}

export class RedisUserStore implements UserStore, ItemCounter {
  private readonly maxActions: number;
  private readonly purchaseWindowMs: number;
  private readonly seenTtlMs: number;
  private readonly timeoutMs: number;

  private constructor(
    private readonly client: Conn,
    opts: RedisUserStoreOptions,
  ) {
    this.maxActions = opts.maxActions ?? USER_STORE_DEFAULTS.maxActions;
    this.purchaseWindowMs = opts.purchaseWindowMs ?? USER_STORE_DEFAULTS.purchaseWindowMs;
    this.seenTtlMs = opts.seenTtlMs ?? USER_STORE_DEFAULTS.seenTtlMs;
    this.timeoutMs = opts.commandTimeoutMs ?? 1000;
  }

  /** Connects (RESP3, with the local cache unless cacheEntries is 0); throws when Redis cannot be reached. */
  static async connect(opts: RedisUserStoreOptions): Promise<RedisUserStore> {
    const client = redisClient({ url: opts.url, cluster: opts.cluster, resp: 3, cacheEntries: opts.cacheEntries ?? 100_000 });
    await client.connect();
    return new RedisUserStore(client as unknown as Conn, opts);
  }

  /** One script call per user (one key, so this works on a Cluster too), all sent together; resolves once Redis acknowledged every one. */
  async apply(events: readonly EngineEvent[], now: number, items?: ItemIds): Promise<ApplyResult> {
    validateEvents(events);
    const byUser = new Map<string, EngineEvent[]>();
    for (const e of events) {
      const list = byUser.get(e.userId);
      if (list) list.push(e);
      else byUser.set(e.userId, [e]);
    }
    const counts = await within(Promise.all([...byUser].map(([u, evs]) => this.applyUser(u, evs, now, items))), this.timeoutMs, 'user store write');
    return { applied: counts.reduce((a, b) => a + b, 0) };
  }

  /** One user's events in one script call, with the bounds; returns the events that changed the state. */
  private async applyUser(u: string, events: readonly EngineEvent[], now: number, items?: ItemIds): Promise<number> {
    const purchaseHorizon = now - this.purchaseWindowMs;
    const seenHorizon = now - this.seenTtlMs;
    const ttl = Math.max(1, Math.ceil(Math.max(this.purchaseWindowMs, this.seenTtlMs)));
    const args = [String(this.maxActions), String(purchaseHorizon), String(seenHorizon), String(ttl)];
    // Per event, the index of the change that says whether it changed the state.
    const counted: number[] = [];
    for (const e of events) {
      const item = nameOf(e.row, items);
      if (e.action === ACTION.impression) {
        if (e.ts < seenHorizon) continue;
        counted.push(args.length - 4);
        args.push(`s|${e.ts}|${item}`);
      } else {
        counted.push(args.length - 4);
        args.push(`a|${e.ts}|${e.action}|${item}`);
        if (e.action === ACTION.purchase && e.ts >= purchaseHorizon) args.push(`p|${e.ts}|${item}`);
      }
    }
    if (counted.length === 0) return 0;
    const call = { keys: [userKey(u)], arguments: args };
    let replies: unknown;
    try {
      replies = await this.client.evalSha(APPLY_SHA, call);
    } catch (err) {
      if (!/NOSCRIPT/.test(err instanceof Error ? err.message : String(err))) throw err;
      replies = await this.client.eval(APPLY, call);
    }
    const changed = replies as number[];
    let applied = 0;
    for (const i of counted) if (Number(changed[i]) > 0) applied++;
    return applied;
  }

  async snapshot(userId: string, now: number, items?: ItemIds): Promise<UserSnapshot> {
    const blob = await within(this.client.get(userKey(userId)), this.timeoutMs, 'user store read');
    const purchaseHorizon = now - this.purchaseWindowMs;
    const seenHorizon = now - this.seenTtlMs;
    const rows: number[] = [];
    const codes: number[] = [];
    const times: number[] = [];
    const purchased = new Map<number, number>();
    const seen = new Map<number, number>();
    if (blob) {
      for (const line of blob.split('\n')) {
        if (line.length < 4) continue;
        const bar = line.indexOf('|', 2);
        const ts = Number(line.slice(2, bar));
        if (line[0] === 'a') {
          const bar2 = line.indexOf('|', bar + 1);
          const row = rowOfName(line.slice(bar2 + 1), items);
          if (row === undefined) continue;
          rows.push(row);
          codes.push(Number(line.slice(bar + 1, bar2)));
          times.push(ts);
        } else {
          const horizon = line[0] === 'p' ? purchaseHorizon : seenHorizon;
          const row = ts >= horizon ? rowOfName(line.slice(bar + 1), items) : undefined;
          if (row !== undefined) (line[0] === 'p' ? purchased : seen).set(row, ts);
        }
      }
    }
    return {
      actionRows: Int32Array.from(rows),
      actionCodes: Uint8Array.from(codes),
      actionTimes: Float64Array.from(times),
      purchased,
      seen,
    };
  }

  /** Adds to the new items' counts (pipelined; each item's key expires `ttlMs` after its last write). */
  async countItems(counts: ReadonlyMap<string, ItemCounts>, ttlMs: number): Promise<void> {
    const writes: Promise<number>[] = [];
    const now = Date.now();
    for (const [id, c] of counts) {
      if (c.impressions > 0) writes.push(this.client.hIncrBy(itemKey(id), 'i', c.impressions));
      if (c.clicks > 0) writes.push(this.client.hIncrBy(itemKey(id), 'c', c.clicks));
      writes.push(this.client.pExpire(itemKey(id), Math.max(1, Math.ceil(ttlMs))));
      writes.push(this.client.zAdd(TOUCHED, { score: now, value: id }));
    }
    writes.push(this.client.zRemRangeByScore(TOUCHED, '-inf', `(${now - TOUCHED_KEEP_MS}`));
    await within(Promise.all(writes), this.timeoutMs, 'item counts write');
  }

  async touchedSince(since: number): Promise<string[]> {
    return within(this.client.zRangeByScore(TOUCHED, String(since), '+inf'), this.timeoutMs, 'item counts read');
  }

  async itemCounts(ids: readonly string[]): Promise<ItemCounts[]> {
    const replies = await within(Promise.all(ids.map((id) => this.client.hmGet(itemKey(id), ['i', 'c']))), this.timeoutMs, 'item counts read');
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
