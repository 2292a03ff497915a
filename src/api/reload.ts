// Blue-green bundle reload (ReloadBundle, SIGHUP): the new bundle loads
// beside the serving one, takes the catalog changes it does not supersede and
// the recorded events, and is swapped in; the old engine closes once its
// calls are done.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from 'pino';

import { checkConfined } from '../bundle/confine';
import type { Engine } from '../pipeline/engine';
import type { EngineEvent } from '../state';
import type { CatalogChanges, ReplayStats } from './catalog-changes';
import { invalid, ServiceError } from './errors';
import { EventJournal, toRows } from './event-journal';

/** ReloadBundleResponse. */
export interface ReloadResult {
  bundle_version: string;
  items: number;
  load_millis: number;
  replayed_events: number;
  replayed_catalog_changes: number;
  superseded_catalog_changes: number;
}

export interface ReloaderDeps {
  /** Directory that reload paths are resolved in and must stay inside. */
  root?: string;
  /** Builds and warms an engine for a bundle directory. */
  load?: (dir: string) => Promise<Engine>;
  catalogChanges: CatalogChanges;
  journal: EventJournal;
  /** The engine serving now. */
  current(): Engine | null;
  /** Serves `engine` from now on. */
  serve(engine: Engine): void;
  logger: Logger;
}

export class BundleReloader {
  private busy = false;

  constructor(private readonly deps: ReloaderDeps) {}

  /**
   * Loads the bundle at `rel` (inside the bundle root) beside the serving one,
   * re-applies the catalog changes it does not supersede and replays the
   * recorded events into it, swaps, and closes the old engine once its
   * in-flight calls have finished. A broken bundle, or one without room for
   * the upserted items, leaves the old one serving.
   */
  async reload(rel: string): Promise<ReloadResult> {
    const { root, load } = this.deps;
    if (!root || !load) throw new ServiceError('FORBIDDEN', 'ReloadBundle is not configured on this server (no bundle root)');
    const realRoot = await fs.realpath(root);
    let dir: string;
    try {
      dir = await fs.realpath(path.resolve(realRoot, rel));
    } catch {
      throw invalid('path', `"${rel}" does not exist under the bundle root`);
    }
    if (dir !== realRoot && !dir.startsWith(realRoot + path.sep)) throw invalid('path', `"${rel}" is outside the bundle root`);
    if (this.busy) throw new ServiceError('BUSY', 'a reload is already running');
    this.busy = true;
    const t0 = Date.now();
    try {
      // Every file of the bundle must be in the root: no reading through links to elsewhere.
      await checkConfined(dir, realRoot);
      const next = await load(dir);
      const swapped: { old: Engine | null } = { old: null };
      let events: EngineEvent[];
      let catalog: ReplayStats;
      try {
        const prepared = await this.deps.catalogChanges.prepare(next);
        events = toRows(next.catalog, this.deps.journal.recent());
        if (events.length > 0) await next.recordEvents(events);
        catalog = await this.deps.catalogChanges.swapIn(prepared, () => {
          swapped.old = this.deps.current();
          this.deps.serve(next);
        });
      } catch (err) {
        await next.close();
        throw err;
      }
      const log = { version: next.version, items: next.catalog.itemCount, replayed: events.length, catalog, ms: Date.now() - t0 };
      this.deps.logger.info(log, 'bundle swapped');
      if (swapped.old) void this.retire(swapped.old);
      return {
        bundle_version: next.version,
        items: next.catalog.itemCount,
        load_millis: Date.now() - t0,
        replayed_events: events.length,
        replayed_catalog_changes: catalog.replayed,
        superseded_catalog_changes: catalog.superseded,
      };
    } finally {
      this.busy = false;
    }
  }

  /** Closes a replaced engine once its in-flight calls are done (at most 60 s). */
  private async retire(old: Engine): Promise<void> {
    const until = Date.now() + 60_000;
    while (old.inflight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await old.close();
  }
}
