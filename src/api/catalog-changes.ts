// The catalog changes (UpsertItems, DeleteItems) made since the serving
// bundle was built: logged before they are acknowledged, applied to the
// serving engine in log order, and re-applied to every bundle loaded later
// (a ReloadBundle, SIGHUP, or a restart with the catalog log) unless that
// bundle supersedes them.
//
// The store keeps the latest change per item id (an upsert after a delete of
// the same id replaces it, and the other way round), in memory, and mirrors
// it into the catalog log when there is one. So a replay applies each item's
// latest change once, however often it was changed.
//
// Supersede rule (supersedes()): a bundle whose manifest createdAt is later
// than a change's time was built after the change and already reflects it;
// the change is neither re-applied to it nor kept once that bundle serves.
// A bundle whose createdAt is not a date, or is not later than the createdAt
// of the bundle the change was made on (the same bundle reloaded, or an older
// one rolled back to), never supersedes it. The change's time is this
// server's wall clock; createdAt is the bundle builder's.
//
// Compaction: the log is rewritten with the live changes only when it holds
// more than twice as many records as the store (plus `compactSlack`), when a
// swap dropped superseded changes, and when a logged change failed to apply.
import { CatalogError, NewItem } from '../catalog/catalog';
import type { Engine } from '../pipeline/engine';
import { CatalogChange, CatalogLog, ChangeBase, changeId } from '../catalog/catalog-log';
import { ServiceError } from './errors';
import { JournalClosedError, JournalFullError } from '../state/journal';

export interface ReplayStats {
  /** Changes re-applied to the bundle. */
  replayed: number;
  /** Changes the bundle supersedes (built after them): not applied, and dropped once it serves. */
  superseded: number;
  /** Upserts whose embedding does not have the bundle's dimension: not applied (kept for later bundles). */
  skipped: number;
}

/** Whether a bundle created at `bundleCreatedAt` (its manifest's createdAt) already reflects `change`. */
export function supersedes(bundleCreatedAt: string, change: CatalogChange): boolean {
  const built = Date.parse(bundleCreatedAt);
  if (!Number.isFinite(built)) return false;
  const base = Date.parse(change.bundle.createdAt);
  if (Number.isFinite(base) && built <= base) return false;
  return built > change.ts;
}

interface Entry {
  change: CatalogChange;
  /** Logged and applied to the serving engine (its call settled OK): only applied entries are replayed or dropped. */
  applied: boolean;
  /** The call failed: the entry is out of the store (and of the log at the next rewrite). */
  failed: boolean;
  /** The entry this one replaced for the same item, until this one is applied (restored if it fails). */
  prev?: Entry;
}

/** What prepare() replayed into a bundle before its swap. */
export interface Prepared {
  engine: Engine;
  done: Set<Entry>;
  stats: ReplayStats;
}

export interface CatalogChangesOptions {
  /** The durable log; without it changes live in memory only (they survive a reload, not a restart). */
  log?: CatalogLog;
  /** Records the log may hold beyond twice the live changes before it is compacted. Default 1000. */
  compactSlack?: number;
  /** Called when a compaction fails (the log keeps its older, longer content). */
  onError?: (err: Error) => void;
}

const UPSERT_CHUNK = 10_000;

const baseOf = (engine: Engine): ChangeBase => ({ version: engine.version, createdAt: engine.bundle.manifest.createdAt });

export class CatalogChanges {
  private readonly latest = new Map<string, Entry>();
  private chain: Promise<unknown> = Promise.resolve();
  private reservedRows = 0;
  private compacting = 0;
  /** createdAt of the last bundle that dropped what it supersedes: a taken-back change never revives one of those. */
  private served: string | null = null;

  constructor(private readonly opts: CatalogChangesOptions = {}) {}

  /** Live changes (the latest per item id). */
  get size(): number {
    return this.latest.size;
  }

  /** The live changes, oldest first (what a compaction writes). */
  changes(): CatalogChange[] {
    return Array.from(this.latest.values(), (e) => e.change);
  }

  /**
   * Logs an UpsertItems made on `engine` and, once it is durable, applies it
   * to the engine serving then (`current()`), after every change logged
   * before it. New ids are counted against the catalog's capacity before
   * anything is logged.
   */
  upsert(engine: Engine, items: readonly NewItem[], current: () => Engine): Promise<{ inserted: number; updated: number }> {
    return this.applyUpserts(engine, upsertChanges(engine, items), current);
  }

  /** Logs a DeleteItems made on `engine`, then applies it like upsert(). Ids the engine does not know are logged too. */
  delete(engine: Engine, ids: readonly string[], current: () => Engine): Promise<{ deleted: number; unknown: string[] }> {
    return this.applyDeletes(engine, deleteChanges(engine, ids), current);
  }

  /** upsert() of changes made elsewhere (another replica's, read from the catalog stream): their times and bundle kept. */
  applyUpserts(engine: Engine, changes: readonly Extract<CatalogChange, { op: 'upsert' }>[], current: () => Engine): Promise<{ inserted: number; updated: number }> {
    let fresh = 0;
    for (const c of changes) if (!engine.catalog.rowOf.has(c.item.id)) fresh++;
    const items = changes.map((c) => c.item);
    return this.change(engine, [...changes], fresh, () => current().upsertItems(items));
  }

  /** delete() of changes made elsewhere, as applyUpserts(). */
  applyDeletes(engine: Engine, changes: readonly Extract<CatalogChange, { op: 'delete' }>[], current: () => Engine): Promise<{ deleted: number; unknown: string[] }> {
    const ids = changes.map((c) => c.id);
    return this.change(engine, [...changes], 0, () => current().deleteItems(ids));
  }

  private async change<R>(engine: Engine, changes: CatalogChange[], fresh: number, apply: () => Promise<R>): Promise<R> {
    const cat = engine.catalog;
    if (fresh > 0 && cat.size + this.reservedRows + fresh > cat.capacity) {
      throw new CatalogError(
        'capacity',
        `catalog capacity ${cat.capacity} reached (${cat.size} rows used, ${this.reservedRows} taken by changes in progress, ${fresh} more asked); reload a bundle with the new items`,
      );
    }
    // Log and store in the same synchronous step, so the store always holds
    // what the log holds (a compaction writes the store) in the same order.
    const durable = this.opts.log ? this.opts.log.append(changes) : Promise.resolve();
    durable.catch(() => undefined); // handled in the step below, maybe after it settles
    const entries = changes.map((c) => this.put(c));
    this.reservedRows += fresh;
    const step = this.chain.then(async () => {
      try {
        await durable;
      } catch (err) {
        // A full or closed log took nothing; a failed write may have left part of it.
        const refused = err instanceof JournalFullError || err instanceof JournalClosedError;
        this.undo(entries, !refused);
        throw refused ? err : logFailure(err);
      }
      let result: R;
      try {
        result = await apply();
      } catch (err) {
        this.undo(entries, true);
        throw err;
      }
      for (const e of entries) {
        e.applied = true;
        e.prev = undefined;
      }
      this.compact(false);
      return result;
    });
    this.chain = step.catch(() => undefined);
    try {
      return await step;
    } finally {
      this.reservedRows -= fresh;
    }
  }

  private put(change: CatalogChange): Entry {
    const id = changeId(change);
    const prev = this.latest.get(id);
    const entry: Entry = { change, applied: false, failed: false, prev };
    this.latest.delete(id); // re-inserted last: the map stays in log order
    this.latest.set(id, entry);
    return entry;
  }

  /**
   * Takes back the entries of a call that failed: each item's previous change
   * is live again. If the log may hold them, it is rewritten without them.
   */
  private undo(entries: readonly Entry[], logged: boolean): void {
    for (const e of entries) {
      e.failed = true;
      const id = changeId(e.change);
      if (this.latest.get(id) !== e) continue;
      let p = e.prev;
      while (p && (p.failed || (this.served !== null && supersedes(this.served, p.change)))) p = p.prev;
      if (p) this.latest.set(id, p);
      else this.latest.delete(id);
    }
    if (logged) this.compact(true);
  }

  /** Queues a rewrite of the log with the live changes when it is due (or `force`). */
  private compact(force: boolean): void {
    const log = this.opts.log;
    if (!log) return;
    const slack = this.opts.compactSlack ?? 1000;
    if (!force && (this.compacting > 0 || log.size + log.pendingRecords <= 2 * this.latest.size + slack)) return;
    this.compacting++;
    log
      .rewrite(this.changes())
      .catch((err: unknown) => this.opts.onError?.(err as Error))
      .finally(() => this.compacting--);
  }

  /**
   * Startup: takes the changes read back from the log (oldest first) as
   * applied, re-applies to `engine` (not serving yet) those it does not
   * supersede, and forgets the others.
   */
  async restore(engine: Engine, changes: readonly CatalogChange[]): Promise<ReplayStats> {
    for (const c of changes) {
      const e = this.put(c);
      e.applied = true;
      e.prev = undefined;
    }
    const stats = await replay(engine, this.settled());
    const dropped = this.dropSuperseded(engine);
    if (dropped === 0 && changes.length > this.latest.size) this.compact(true);
    return stats;
  }

  /** Reload, before the swap: re-applies the settled changes to the new bundle's engine. */
  async prepare(engine: Engine): Promise<Prepared> {
    const entries = this.settled();
    const stats = await replay(engine, entries);
    return { engine, done: new Set(entries), stats };
  }

  /**
   * Reload, the swap: after the changes in progress have settled, re-applies
   * those settled since prepare(), calls `swap` (which makes the engine
   * serve), then forgets the changes the new bundle supersedes. Changes made
   * from then on apply to the new engine.
   */
  swapIn(prepared: Prepared, swap: () => void): Promise<ReplayStats> {
    const step = this.chain.then(async () => {
      const more = await replay(
        prepared.engine,
        this.settled().filter((e) => !prepared.done.has(e)),
      );
      swap();
      this.dropSuperseded(prepared.engine);
      const { stats } = prepared;
      return { replayed: stats.replayed + more.replayed, superseded: stats.superseded + more.superseded, skipped: stats.skipped + more.skipped };
    });
    this.chain = step.catch(() => undefined);
    return step;
  }

  private settled(): Entry[] {
    const out: Entry[] = [];
    for (const e of this.latest.values()) if (e.applied) out.push(e);
    return out;
  }

  /** Forgets the settled changes `engine`'s bundle supersedes; compacts the log if any. */
  private dropSuperseded(engine: Engine): number {
    const created = engine.bundle.manifest.createdAt;
    this.served = created;
    let dropped = 0;
    for (const [id, e] of this.latest) {
      if (e.applied && supersedes(created, e.change)) {
        this.latest.delete(id);
        dropped++;
      }
    }
    if (dropped > 0) this.compact(true);
    return dropped;
  }
}

/** Applies `entries` (one per item id) to `engine` unless its bundle supersedes them. */
async function replay(engine: Engine, entries: readonly Entry[]): Promise<ReplayStats> {
  const created = engine.bundle.manifest.createdAt;
  const cat = engine.catalog;
  const deletes: string[] = [];
  const upserts: NewItem[] = [];
  let superseded = 0;
  let skipped = 0;
  for (const { change: c } of entries) {
    if (supersedes(created, c)) superseded++;
    else if (c.op === 'delete') deletes.push(c.id);
    else if (c.item.embedding.length !== cat.dim) skipped++;
    else upserts.push(c.item);
  }
  if (deletes.length > 0) await engine.deleteItems(deletes);
  let fresh = 0;
  for (const it of upserts) if (!cat.rowOf.has(it.id)) fresh++;
  if (cat.size + fresh > cat.capacity) {
    throw new CatalogError(
      'capacity',
      `bundle ${engine.version} has room for ${cat.capacity - cat.size} more items (--catalog-headroom), but ${fresh} items upserted since it was built must be re-applied; raise the headroom or build a bundle with them`,
    );
  }
  for (let i = 0; i < upserts.length; i += UPSERT_CHUNK) await engine.upsertItems(upserts.slice(i, i + UPSERT_CHUNK));
  return { replayed: deletes.length + upserts.length, superseded, skipped };
}

/** The changes an UpsertItems of `items` on `engine` makes, stamped now. */
export function upsertChanges(engine: Engine, items: readonly NewItem[]): Extract<CatalogChange, { op: 'upsert' }>[] {
  const ts = Date.now();
  const bundle = baseOf(engine);
  return items.map((item) => ({ op: 'upsert', ts, bundle, item }));
}

/** The changes a DeleteItems of `ids` on `engine` makes (one per distinct id), stamped now. */
export function deleteChanges(engine: Engine, ids: readonly string[]): Extract<CatalogChange, { op: 'delete' }>[] {
  const ts = Date.now();
  const bundle = baseOf(engine);
  return Array.from(new Set(ids), (id) => ({ op: 'delete', ts, bundle, id }));
}

function logFailure(err: unknown): Error {
  return new ServiceError('CATALOG_LOG', `the change was not applied: the catalog log write failed (${err instanceof Error ? err.message : String(err)})`, 100);
}
