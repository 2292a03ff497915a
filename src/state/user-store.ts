// Per-user state the engine reads at request time: the recent action sequence
// (the user tower's input), recent purchases (down-ranked) and recent
// impressions (seen filter). Behind `UserStore`: in memory here, or in Redis
// (redis-user-store.ts) to share it between replicas.
import { UserSnapshot } from './snapshot';
import { ACTION, ActionCode } from '../models/schema';
import { ActionSlab, Ring } from './action-slab';

/** One interaction, already mapped to a catalog row and an action code. */
export interface EngineEvent {
  userId: string;
  /** Catalog row of the item. */
  row: number;
  action: ActionCode;
  /** Event time, ms since the epoch. */
  ts: number;
}

/**
 * A catalog's item ids by row and rows by id: how a shared store names items
 * (rows differ between bundles, and between replicas that applied the same
 * catalog changes in a different grouping). A store in this process uses rows.
 */
export interface ItemIds {
  readonly ids: readonly string[];
  readonly rowOf: ReadonlyMap<string, number>;
}

export interface ApplyResult {
  /** Events that changed the state (expired or too old events are dropped). */
  applied: number;
}

export interface UserStore {
  /**
   * Applies a batch atomically: a bad event throws a TypeError before
   * anything is applied. A remote store resolves once the write is acknowledged.
   */
  apply(events: readonly EngineEvent[], now: number, items?: ItemIds): ApplyResult | Promise<ApplyResult>;
  /** A copy of the user's state as of `now` (rows of `items`' catalog); an unknown user gets an empty snapshot. */
  snapshot(userId: string, now: number, items?: ItemIds): UserSnapshot | Promise<UserSnapshot>;
  /** Users held (-1: not known without a scan). */
  size(): number;
  /** Releases connections (a remote store). */
  close?(): Promise<void>;
}

export interface InMemoryUserStoreOptions {
  /** Non-impression actions kept per user (the user tower's sequence length). */
  maxActions?: number;
  /** Purchases older than this no longer count. */
  purchaseWindowMs?: number;
  /** Impressions older than this no longer count as seen. */
  seenTtlMs?: number;
  /** Beyond this, the least recently active user (by event arrival) is evicted. */
  maxUsers?: number;
}

const DAY_MS = 86_400_000;
export const USER_STORE_DEFAULTS: Readonly<Required<InMemoryUserStoreOptions>> = {
  maxActions: 50,
  purchaseWindowMs: 60 * DAY_MS,
  seenTtlMs: DAY_MS,
  maxUsers: 1_000_000,
};

const MAX_ROW = 0x7fffffff;
const MAX_CODE = Math.max(...Object.values(ACTION));
const MIN_CODE = Math.min(...Object.values(ACTION));
/** Expired entries are swept when a map grows past max(this, 2 x its size after the last sweep). */
const MIN_SWEEP = 32;

/** Throws a TypeError naming the first bad field of the batch. */
export function validateEvents(events: readonly EngineEvent[]): void {
  if (!Array.isArray(events)) throw new TypeError('events must be an array');
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as Partial<EngineEvent> | null | undefined;
    if (typeof e !== 'object' || e === null) throw new TypeError(`events[${i}] must be an object`);
    if (typeof e.userId !== 'string' || e.userId.length === 0)
      throw new TypeError(`events[${i}].userId must be a non-empty string`);
    const row = e.row;
    if (typeof row !== 'number' || !Number.isInteger(row) || row < 0 || row > MAX_ROW)
      throw new TypeError(`events[${i}].row must be an integer in [0, ${MAX_ROW}], got ${String(row)}`);
    const a = e.action;
    if (typeof a !== 'number' || !Number.isInteger(a) || a < MIN_CODE || a > MAX_CODE)
      throw new TypeError(`events[${i}].action must be an ACTION code, got ${String(a)}`);
    const ts = e.ts;
    if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0)
      throw new TypeError(`events[${i}].ts must be a finite non-negative number, got ${String(ts)}`);
  }
}

/** Keeps row -> latest time, sweeping entries older than the horizon now and then. */
class RecentRows {
  /** Allocated on the first entry: most users have no purchases. */
  private map: Map<number, number> | null = null;
  private sweepAt = MIN_SWEEP;

  get size(): number {
    return this.map === null ? 0 : this.map.size;
  }

  put(row: number, ts: number, horizon: number): boolean {
    if (ts < horizon) return false;
    const map = (this.map ??= new Map());
    const prev = map.get(row);
    if (prev !== undefined && prev >= ts) return false;
    map.set(row, ts);
    if (map.size > this.sweepAt) {
      for (const [r, t] of map) if (t < horizon) map.delete(r);
      this.sweepAt = Math.max(MIN_SWEEP, 2 * map.size);
    }
    return true;
  }

  copy(horizon: number): Map<number, number> {
    const out = new Map<number, number>();
    if (this.map !== null) for (const [r, t] of this.map) if (t >= horizon) out.set(r, t);
    return out;
  }
}

/** One user's state, linked into the store's activity list (LRU first). */
class UserState {
  /** The action sequence: a slot of the store's slab, taken at the first action. */
  ring: Ring | null = null;
  readonly purchased = new RecentRows();
  readonly seen = new RecentRows();
  prev: UserState | null = null;
  next: UserState | null = null;
  constructor(readonly id: string) {}
}

function checkNow(now: number): void {
  if (typeof now !== 'number' || !Number.isFinite(now)) throw new TypeError(`now must be a finite number, got ${String(now)}`);
}

function checkOption(name: string, v: number, min: number, integer: boolean): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v)))
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(v)}`);
}

export class InMemoryUserStore implements UserStore {
  readonly options: Readonly<Required<InMemoryUserStoreOptions>>;
  private readonly users = new Map<string, UserState>();
  private readonly slab: ActionSlab;
  /** Activity list: least recently active first. */
  private lru: UserState | null = null;
  private mru: UserState | null = null;

  constructor(options: InMemoryUserStoreOptions = {}) {
    const o = { ...USER_STORE_DEFAULTS };
    for (const [k, v] of Object.entries(options) as [keyof InMemoryUserStoreOptions, number | undefined][])
      if (v !== undefined) o[k] = v;
    checkOption('maxActions', o.maxActions, 1, true);
    checkOption('purchaseWindowMs', o.purchaseWindowMs, 0, false);
    checkOption('seenTtlMs', o.seenTtlMs, 0, false);
    checkOption('maxUsers', o.maxUsers, 1, true);
    this.options = Object.freeze(o);
    // chunks of about 1 MiB, fewer rings than that for a small store
    const perChunk = Math.max(1, Math.min(1024, o.maxUsers, Math.floor(2 ** 20 / (13 * o.maxActions))));
    this.slab = new ActionSlab(o.maxActions, perChunk);
  }

  apply(events: readonly EngineEvent[], now: number): ApplyResult {
    checkNow(now);
    validateEvents(events);
    const purchaseHorizon = now - this.options.purchaseWindowMs;
    const seenHorizon = now - this.options.seenTtlMs;
    let applied = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const u = this.touch(e.userId);
      let changed: boolean;
      if (e.action === ACTION.impression) {
        changed = u.seen.put(e.row, e.ts, seenHorizon);
      } else {
        changed = this.slab.insert((u.ring ??= this.slab.allocate()), e.row, e.action, e.ts);
        if (e.action === ACTION.purchase) changed = u.purchased.put(e.row, e.ts, purchaseHorizon) || changed;
      }
      if (changed) applied++;
    }
    return { applied };
  }

  snapshot(userId: string, now: number): UserSnapshot {
    checkNow(now);
    const u = this.users.get(userId);
    const n = u?.ring ? u.ring.count : 0;
    const snap: UserSnapshot = {
      actionRows: new Int32Array(n),
      actionCodes: new Uint8Array(n),
      actionTimes: new Float64Array(n),
      purchased: u ? u.purchased.copy(now - this.options.purchaseWindowMs) : new Map(),
      seen: u ? u.seen.copy(now - this.options.seenTtlMs) : new Map(),
    };
    if (u?.ring) this.slab.copyInto(u.ring, snap.actionRows, snap.actionCodes, snap.actionTimes);
    return snap;
  }

  size(): number {
    return this.users.size;
  }

  has(userId: string): boolean {
    return this.users.has(userId);
  }

  /** The user's state, created if new, moved to the most recently active end. */
  private touch(userId: string): UserState {
    let u = this.users.get(userId);
    if (u === undefined) {
      u = new UserState(userId);
      this.users.set(userId, u);
      const old = this.lru;
      if (this.users.size > this.options.maxUsers && old !== null) {
        this.users.delete(old.id);
        this.unlink(old);
        if (old.ring) this.slab.release(old.ring);
      }
    } else if (u === this.mru) {
      return u;
    } else {
      this.unlink(u);
    }
    u.prev = this.mru;
    u.next = null;
    if (this.mru !== null) this.mru.next = u;
    else this.lru = u;
    this.mru = u;
    return u;
  }

  private unlink(u: UserState): void {
    if (u.prev !== null) u.prev.next = u.next;
    else this.lru = u.next;
    if (u.next !== null) u.next.prev = u.prev;
    else this.mru = u.prev;
    u.prev = u.next = null;
  }
}
