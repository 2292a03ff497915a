// The user tower's output per user, reused while its input is unchanged.
//
// The tower reads the user's last actions (items, action types, ages) and
// the catalog's item features. An entry is reused only when the action
// sequence is the same (compared exactly, so a recorded event or an
// in-session action always recomputes), the catalog has not changed since
// (any upsert or delete invalidates every entry), and it is younger than
// maxAgeMs (the ages the tower sees drift with time: 10 minutes move them by
// 0.007 days). Least recently used entries are evicted past maxEntries.
import type { TowerOutput } from './user-tower';
import type { UserSnapshot } from '../state/snapshot';

export interface UserEmbeddingCacheOptions {
  /** Users kept (0: no cache). */
  maxEntries: number;
  /** An entry computed longer ago than this (on the engine's clock) is recomputed. */
  maxAgeMs: number;
}

export const USER_EMBEDDING_CACHE_DEFAULTS: UserEmbeddingCacheOptions = { maxEntries: 100_000, maxAgeMs: 10 * 60_000 };

interface Entry {
  rows: Int32Array;
  codes: Uint8Array;
  times: Float64Array;
  catalogVersion: number;
  at: number;
  out: TowerOutput;
}

/** The last `n` actions of the snapshot equal the entry's. */
function sameActions(e: Entry, u: UserSnapshot, n: number): boolean {
  if (e.rows.length !== n) return false;
  const from = u.actionRows.length - n;
  for (let i = 0; i < n; i++) {
    if (e.rows[i] !== u.actionRows[from + i] || e.codes[i] !== u.actionCodes[from + i] || e.times[i] !== u.actionTimes[from + i]) return false;
  }
  return true;
}

export class UserEmbeddingCache {
  private readonly entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly opts: UserEmbeddingCacheOptions,
    /** Actions the tower reads: only the last this many are compared. */
    private readonly maxActions: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached output for the user's current input, or null. The caller must not modify it. */
  get(userId: string, user: UserSnapshot, catalogVersion: number, now: number): TowerOutput | null {
    const e = this.entries.get(userId);
    const n = Math.min(user.actionRows.length, this.maxActions);
    if (e === undefined || e.catalogVersion !== catalogVersion || !(now - e.at <= this.opts.maxAgeMs && now >= e.at) || !sameActions(e, user, n)) {
      this.misses++;
      return null;
    }
    // Most recently used last.
    this.entries.delete(userId);
    this.entries.set(userId, e);
    this.hits++;
    return e.out;
  }

  put(userId: string, user: UserSnapshot, catalogVersion: number, now: number, out: TowerOutput): void {
    if (this.opts.maxEntries <= 0) return;
    const n = Math.min(user.actionRows.length, this.maxActions);
    const from = user.actionRows.length - n;
    this.entries.delete(userId);
    this.entries.set(userId, {
      rows: user.actionRows.slice(from),
      codes: user.actionCodes.slice(from),
      times: user.actionTimes.slice(from),
      catalogVersion,
      at: now,
      out,
    });
    if (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
