// Catalog changes shared by every replica through the Redis catalog stream
// (catalog/redis-catalog-stream.ts).
//
// An UpsertItems or DeleteItems is appended to the stream and applied here
// only when this replica's reader reaches it, like every other replica's
// changes: so every replica applies every change in the same order. The call
// is acknowledged once the entry is applied here (or fails as it failed to
// apply). A starting replica reads the whole stream before it serves.
//
// A Rank first compares the stream's head (a cached read: no round trip
// unless a replica appended since) with the last entry applied here, and
// waits for the reader when it is behind: a delete acknowledged on any
// replica is not served by this one afterwards. When Redis cannot say (it is
// unreachable), the Rank is served from the catalog as this replica has it,
// with `degraded: catalog_stream_unavailable`; no change can be acknowledged
// then either, by any replica that Redis cannot reach.
import { randomUUID } from 'node:crypto';

import { CatalogError, NewItem } from '../catalog/catalog';
import type { CatalogChange } from '../catalog/catalog-log';
import { compareIds, RedisCatalogStream, StreamEntry } from '../catalog/redis-catalog-stream';
import type { Metrics } from '../metrics/metrics';
import type { Engine } from '../pipeline/engine';
import { CatalogChanges, deleteChanges, ReplayStats, upsertChanges } from './catalog-changes';
import { ServiceError } from './errors';
import type { Logger } from 'pino';

type Upsert = Extract<CatalogChange, { op: 'upsert' }>;
type Delete = Extract<CatalogChange, { op: 'delete' }>;
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The degradation a Rank reports when the stream's head could not be read. */
export const STREAM_UNAVAILABLE = 'catalog_stream_unavailable';

export interface SharedCatalogOptions {
  stream: RedisCatalogStream;
  changes: CatalogChanges;
  current: () => Engine | null;
  metrics: Metrics;
  logger: Logger;
  /** How long a call waits for its own entry to be applied here before it answers UNAVAILABLE. Default 10 s. */
  applyTimeoutMs?: number;
}

export class SharedCatalog {
  /** This process, as the origin of its entries. */
  readonly origin = randomUUID();
  private calls = 0;
  private applied = '0-0';
  private readonly mine = new Map<number, (o: Outcome) => void>();
  private readonly behind: { id: string; resolve: () => void }[] = [];

  constructor(private readonly opts: SharedCatalogOptions) {}

  /** The last entry applied here. */
  get appliedId(): string {
    return this.applied;
  }

  /**
   * Startup, before `engine` serves: re-applies every change in the stream
   * (those its bundle does not supersede), then follows the stream.
   */
  async catchUp(engine: Engine): Promise<ReplayStats & { entries: number }> {
    const entries = await this.opts.stream.readFrom('0-0');
    const stats = await this.opts.changes.restore(
      engine,
      entries.flatMap((e) => e.changes),
    );
    if (entries.length > 0) this.applied = entries[entries.length - 1].id;
    this.opts.stream.follow(this.applied, (e) => this.apply(e), (err) => this.opts.logger.warn({ err: err.message }, 'catalog stream read failed; retrying'));
    return { ...stats, entries: entries.length };
  }

  upsert(engine: Engine, items: readonly NewItem[]): Promise<{ inserted: number; updated: number }> {
    let fresh = 0;
    for (const it of items) if (!engine.catalog.rowOf.has(it.id)) fresh++;
    const cat = engine.catalog;
    if (fresh > 0 && cat.size + fresh > cat.capacity) {
      throw new CatalogError('capacity', `catalog capacity ${cat.capacity} reached (${cat.size} rows used, ${fresh} more asked); reload a bundle with the new items`);
    }
    return this.publish(upsertChanges(engine, items)) as Promise<{ inserted: number; updated: number }>;
  }

  delete(engine: Engine, ids: readonly string[]): Promise<{ deleted: number; unknown: string[] }> {
    return this.publish(deleteChanges(engine, ids)) as Promise<{ deleted: number; unknown: string[] }>;
  }

  /**
   * Before a Rank: waits until every entry appended to the stream so far is
   * applied here (up to `deadline`). Says whether it waited (the catalog may
   * have changed meanwhile) and gives a degradation when the head could not
   * be read.
   */
  async barrier(deadline: number): Promise<{ waited: boolean; degradation: string | null }> {
    let head: string;
    try {
      head = await this.opts.stream.head();
    } catch {
      return { waited: false, degradation: STREAM_UNAVAILABLE };
    }
    if (compareIds(head, this.applied) <= 0) return { waited: false, degradation: null };
    const wait = Math.min(deadline, Date.now() + (this.opts.applyTimeoutMs ?? 10_000)) - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const waiter = { id: head, resolve: () => undefined as void };
    const caught = new Promise<boolean>((resolve) => {
      waiter.resolve = () => resolve(true);
      this.behind.push(waiter);
    });
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, wait))));
    const ok = await Promise.race([caught, late]);
    clearTimeout(timer);
    const at = this.behind.indexOf(waiter);
    if (at >= 0) this.behind.splice(at, 1);
    if (!ok) throw new ServiceError('CATALOG_BEHIND', `catalog changes up to ${head} are not applied on this replica yet (applied: ${this.applied}); retry`, 50);
    return { waited: true, degradation: null };
  }

  private async publish(changes: CatalogChange[]): Promise<unknown> {
    const call = ++this.calls;
    const outcome = new Promise<Outcome>((resolve) => this.mine.set(call, resolve));
    try {
      await this.opts.stream.append(this.origin, call, changes);
    } catch (err) {
      this.mine.delete(call);
      throw new ServiceError('CATALOG_LOG', `the change was not applied: the catalog stream write failed (${err instanceof Error ? err.message : String(err)})`, 100);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), this.opts.applyTimeoutMs ?? 10_000)));
    const o = await Promise.race([outcome, late]);
    clearTimeout(timer);
    if (!o) {
      this.mine.delete(call);
      throw new ServiceError('CATALOG_BEHIND', 'the change is in the catalog stream but not applied on this replica yet; every replica applies it when it reads it');
    }
    if (!o.ok) throw o.error;
    return o.value;
  }

  /** Applies one entry (every replica's, in stream order); answers the call that made it when it was made here. */
  private async apply(e: StreamEntry): Promise<void> {
    const engine = this.opts.current();
    const local = e.origin === this.origin;
    let o: Outcome;
    if (!engine) o = { ok: false, error: new ServiceError('NOT_READY', 'the server is still starting') };
    else {
      const current = () => this.opts.current() ?? engine;
      const ups = e.changes.filter((c): c is Upsert => c.op === 'upsert');
      const dels = e.changes.filter((c): c is Delete => c.op === 'delete');
      try {
        const value = ups.length > 0 ? await this.opts.changes.applyUpserts(engine, ups, current) : await this.opts.changes.applyDeletes(engine, dels, current);
        o = { ok: true, value };
      } catch (error) {
        o = { ok: false, error };
      }
    }
    this.opts.metrics.catalogStreamEntries.inc({ origin: local ? 'local' : 'remote', result: o.ok ? 'applied' : 'failed' });
    if (!o.ok && !local) this.opts.logger.error({ entry: e.id, err: o.error instanceof Error ? o.error.message : String(o.error) }, 'a catalog change from the stream failed to apply here');
    this.applied = e.id;
    for (let i = this.behind.length - 1; i >= 0; i--) {
      if (compareIds(this.behind[i].id, e.id) <= 0) {
        this.behind[i].resolve();
        this.behind.splice(i, 1);
      }
    }
    if (local) {
      this.mine.get(e.call)?.(o);
      this.mine.delete(e.call);
    }
  }

  close(): Promise<void> {
    return this.opts.stream.close();
  }
}
