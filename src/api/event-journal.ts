// The events accepted since start (and restored from the event log), kept
// by item id so that a reloaded bundle, whose rows differ, can be given the
// same user state. Bounded: the newest `max` events are kept.
import type { EngineEvent } from '../state';
import type { LiveCatalog } from '../catalog/catalog';
import type { LoggedEvent } from '../state/event-log';

/** Recorded events kept for replay into a reloaded bundle, by default. */
export const DEFAULT_MAX_JOURNAL = 2_000_000;

export class EventJournal {
  private events: LoggedEvent[] = [];

  constructor(private readonly max: number) {}

  /** Appends, trimming to the newest `max`. */
  remember(events: readonly LoggedEvent[]): void {
    for (const e of events) this.events.push(e);
    // Trimmed in chunks (at max + max/8), so the copy is amortised over many
    // calls instead of costing a full copy on every call once the journal is full.
    if (this.events.length > this.max + Math.max(1, this.max >> 3)) this.events = this.events.slice(this.events.length - this.max);
  }

  /** The newest `max` events. */
  recent(): readonly LoggedEvent[] {
    return this.events.length > this.max ? this.events.slice(this.events.length - this.max) : this.events;
  }
}

/** Events by item id to events by the catalog's rows; events of items it does not have are dropped. */
export function toRows(catalog: LiveCatalog, events: readonly LoggedEvent[]): EngineEvent[] {
  const out: EngineEvent[] = [];
  for (const e of events) {
    const row = catalog.rowOf.get(e.itemId);
    if (row !== undefined) out.push({ userId: e.userId, row, action: e.action, ts: e.ts });
  }
  return out;
}
