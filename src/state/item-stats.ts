// Online click statistics per catalog row, for exploration (Thompson sampling
// or UCB over a Beta posterior). Fed from the same events as the user store:
// impressions and clicks count, the other actions are ignored.
import { ACTION, ActionCode } from '../models/schema';
import type { EngineEvent } from './user-store';

export interface BetaPosterior {
  alpha: number;
  beta: number;
}

const MAX_ROW = 0x7fffffff;

function checkRow(row: number): void {
  if (typeof row !== 'number' || !Number.isInteger(row) || row < 0 || row > MAX_ROW)
    throw new TypeError(`row must be an integer in [0, ${MAX_ROW}], got ${String(row)}`);
}

export class ItemStats {
  private imps: Float64Array;
  private clks: Float64Array;
  private last: Float64Array;

  /** `rows`: the catalog size, if known (storage grows on demand anyway). */
  constructor(rows = 0) {
    checkRow(rows);
    this.imps = new Float64Array(rows);
    this.clks = new Float64Array(rows);
    this.last = new Float64Array(rows);
  }

  /** Rows with storage (the catalog size seen so far). */
  get capacity(): number {
    return this.imps.length;
  }

  /** Grows the storage to hold at least `rows` rows (new rows start at zero). */
  ensureCapacity(rows: number): void {
    checkRow(rows);
    if (rows <= this.imps.length) return;
    const cap = Math.min(MAX_ROW + 1, Math.max(rows, Math.ceil(this.imps.length * 1.5)));
    this.imps = grown(this.imps, cap);
    this.clks = grown(this.clks, cap);
    this.last = grown(this.last, cap);
  }

  /** Counts an impression or a click of `row` at `ts`; other actions are ignored. */
  record(row: number, action: ActionCode, ts: number): void {
    if (action !== ACTION.impression && action !== ACTION.click) return;
    checkRow(row);
    if (row >= this.imps.length) this.ensureCapacity(row + 1);
    if (action === ACTION.impression) this.imps[row]++;
    else this.clks[row]++;
    if (ts > this.last[row]) this.last[row] = ts;
  }

  /** Sets the counts of `row` (the totals of every replica, shared-item-stats.ts); the last event time is kept. */
  set(row: number, impressions: number, clicks: number): void {
    checkRow(row);
    if (row >= this.imps.length) this.ensureCapacity(row + 1);
    this.imps[row] = impressions;
    this.clks[row] = clicks;
  }

  /** Records a batch (validated by the user store's apply beforehand). */
  apply(events: readonly EngineEvent[]): void {
    for (let i = 0; i < events.length; i++) this.record(events[i].row, events[i].action, events[i].ts);
  }

  impressions(row: number): number {
    return row >= 0 && row < this.imps.length ? this.imps[row] : 0;
  }

  clicks(row: number): number {
    return row >= 0 && row < this.clks.length ? this.clks[row] : 0;
  }

  /** Time of the latest impression or click of `row` (0 if none). */
  lastEventTime(row: number): number {
    return row >= 0 && row < this.last.length ? this.last[row] : 0;
  }

  /** Beta(1 + clicks, 1 + max(0, impressions - clicks)). */
  posterior(row: number): BetaPosterior {
    const c = this.clicks(row);
    return { alpha: 1 + c, beta: 1 + Math.max(0, this.impressions(row) - c) };
  }
}

function grown(a: Float64Array, cap: number): Float64Array {
  const out = new Float64Array(cap);
  out.set(a);
  return out;
}
