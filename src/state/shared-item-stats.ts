// The new items' click counts (the Thompson / UCB posteriors of exploration)
// shared by every replica through the user store (Redis). Each replica keeps
// its ItemStats for the reads of a Rank (synchronous, local); RecordEvents
// adds the new items' impressions and clicks to the shared counts (awaited
// with the user's state: acknowledged once both are), and a refresher
// overwrites the local counts of the newest items with the shared totals
// every `refreshMs`: all of them at start and every `fullEveryMs`, else only
// those whose counts changed since the last refresh (less a margin for the
// writers' clocks). So every replica's exploration learns from every
// replica's traffic, at most a refresh period late (batched Thompson
// sampling). Only new items are counted: exploration only serves those.
// The counts from the seed events (the same file on every replica, applied
// before start()) are each replica's base: local = base + shared totals.
import type { ItemStats } from './item-stats';
import { ACTION } from '../models/schema';
import type { EngineEvent, ItemIds } from './user-store';

export interface ItemCounts {
  impressions: number;
  clicks: number;
}

/** A store that keeps click counts per item id for every replica. */
export interface ItemCounter {
  /** Adds the counts per item id; each item's counts expire `ttlMs` after its last write. Resolves once acknowledged. */
  countItems(counts: ReadonlyMap<string, ItemCounts>, ttlMs: number): Promise<void>;
  /** The totals of `ids`, in order (zero for an item never counted). */
  itemCounts(ids: readonly string[]): Promise<ItemCounts[]>;
  /** The items whose counts changed at or after `since` (ms, the writers' clocks). */
  touchedSince(since: number): Promise<string[]>;
}

export function isItemCounter(store: object): store is ItemCounter {
  const s = store as Partial<ItemCounter>;
  return typeof s.countItems === 'function' && typeof s.itemCounts === 'function' && typeof s.touchedSince === 'function';
}

/** The catalog as the shared counts see it. */
export interface NewItems extends ItemIds {
  isNew(row: number, now: number): boolean;
  /** The newest alive items within the new-item window, newest first, at most `limit`. */
  freshRows(now: number, limit: number): Int32Array;
}

export interface SharedItemStatsOptions {
  /** How often the local counts are refreshed from the shared ones. Default 1000 ms. */
  refreshMs?: number;
  /** The newest items refreshed (the fresh source's pool). Default 2000. */
  maxItems?: number;
  /** How long an item's shared counts live after its last write (past the new-item window). */
  ttlMs: number;
  /** Items read per round trip; the refresher yields the event loop between them. Default 250. */
  chunk?: number;
  /** How often every new item is read again (else only the changed ones). Default 60 s. */
  fullEveryMs?: number;
  /** How far before the last refresh a change counts as new (the writers' clock skew). Default 5 s. */
  skewMs?: number;
  onError?: (err: Error) => void;
}

export class SharedItemStats {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Wall-clock start of the last refresh, and of the last full one. */
  private lastRefresh = -Infinity;
  private lastFull = -Infinity;
  /** The counts each new item (by id) had at start(), from the seed events. */
  private readonly base = new Map<string, ItemCounts>();

  constructor(
    private readonly counter: ItemCounter,
    private readonly stats: ItemStats,
    private readonly catalog: NewItems,
    private readonly opts: SharedItemStatsOptions,
  ) {}

  /** Adds the impressions and clicks of new items among `events` to the shared counts. */
  record(events: readonly EngineEvent[], now: number): Promise<void> {
    const counts = new Map<string, ItemCounts>();
    for (const e of events) {
      if ((e.action !== ACTION.impression && e.action !== ACTION.click) || !this.catalog.isNew(e.row, now)) continue;
      const id = this.catalog.ids[e.row];
      const c = counts.get(id) ?? { impressions: 0, clicks: 0 };
      if (e.action === ACTION.impression) c.impressions++;
      else c.clicks++;
      counts.set(id, c);
    }
    return counts.size === 0 ? Promise.resolve() : this.counter.countItems(counts, this.opts.ttlMs);
  }

  /**
   * Overwrites the local counts of the newest items with the shared totals:
   * all of them (`full`, at start and every fullEveryMs), else those changed
   * since the last refresh. Returns the items read.
   */
  async refresh(now: number, full = false): Promise<number> {
    const wall = Date.now();
    let rows = this.catalog.freshRows(now, this.opts.maxItems ?? 2000);
    const all = full || wall - this.lastFull >= (this.opts.fullEveryMs ?? 60_000);
    if (!all) {
      const changed = new Set(await this.counter.touchedSince(this.lastRefresh - (this.opts.skewMs ?? 5000)));
      rows = rows.filter((r) => changed.has(this.catalog.ids[r]));
    }
    const chunk = this.opts.chunk ?? 250;
    for (let i = 0; i < rows.length; i += chunk) {
      const part = rows.subarray(i, i + chunk);
      const ids = Array.from(part, (r) => this.catalog.ids[r]);
      const totals = await this.counter.itemCounts(ids);
      // The catalog may have changed while the counts were read: only rows still holding the id.
      part.forEach((row, j) => {
        if (this.catalog.rowOf.get(ids[j]) !== row) return;
        const b = this.base.get(ids[j]);
        this.stats.set(row, (b?.impressions ?? 0) + totals[j].impressions, (b?.clicks ?? 0) + totals[j].clicks);
      });
    }
    // Only a refresh that read everything it meant to moves the marks.
    this.lastRefresh = wall;
    if (all) this.lastFull = wall;
    return rows.length;
  }

  /** Takes the local counts of the new items as the base, then refreshes every refreshMs (the first time at once) until stop(). */
  start(now: () => number): void {
    for (const row of this.catalog.freshRows(now(), Infinity)) {
      const c = { impressions: this.stats.impressions(row), clicks: this.stats.clicks(row) };
      if (c.impressions > 0 || c.clicks > 0) this.base.set(this.catalog.ids[row], c);
    }
    const tick = () => {
      this.running = this.refresh(now())
        .then(() => undefined, (err: unknown) => this.opts.onError?.(err as Error))
        .finally(() => {
          this.running = null;
          if (this.timer !== null) this.timer = setTimeout(tick, this.opts.refreshMs ?? 1000).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
