// Seeds the user store and item statistics from the world's interaction log
// (events.jsonl: one {user, item, action, ts} per line), streaming it in
// batches and yielding to the event loop now and then.
import { createReadStream } from 'node:fs';
import * as readline from 'node:readline';

import { ACTION, ActionCode } from '../models/schema';
import type { ItemStats } from './item-stats';
import type { EngineEvent, ItemIds, UserStore } from './user-store';

export interface SeedResult {
  /** Distinct users with at least one event applied. */
  users: number;
  /** Events handed to the store (lines with a known item). */
  events: number;
  /** Lines skipped because their item is not in the catalog. */
  skipped: number;
}

export interface SeedOptions {
  /** Events per apply() call. */
  batchSize?: number;
  /** Lines read between yields to the event loop. */
  yieldEvery?: number;
}

const ACTION_BY_NAME: ReadonlyMap<string, ActionCode> = new Map(Object.entries(ACTION) as [string, ActionCode][]);

/** Parses one line into an event, or returns null for an unknown item; throws on a malformed line. */
function parseLine(line: string, where: string, rowOf: ReadonlyMap<string, number>): EngineEvent | null {
  let e: unknown;
  try {
    e = JSON.parse(line);
  } catch (err) {
    throw new SyntaxError(`${where}: not JSON (${(err as Error).message})`);
  }
  if (typeof e !== 'object' || e === null) throw new TypeError(`${where}: not an object`);
  const { user, item, action, ts } = e as Record<string, unknown>;
  if (typeof user !== 'string' || user.length === 0) throw new TypeError(`${where}: user must be a non-empty string`);
  if (typeof item !== 'string') throw new TypeError(`${where}: item must be a string`);
  const code = typeof action === 'string' ? ACTION_BY_NAME.get(action) : undefined;
  if (code === undefined) throw new TypeError(`${where}: unknown action ${JSON.stringify(action)}`);
  if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0)
    throw new TypeError(`${where}: ts must be a finite non-negative number`);
  const row = rowOf.get(item);
  if (row === undefined) return null;
  return { userId: user, row, action: code, ts };
}

/**
 * Streams `file` into `store` and `stats`. Item ids map to catalog rows through
 * `items.rowOf`; lines with an unknown item are skipped and counted. A malformed
 * line throws (naming file and line); batches before it stay applied.
 */
export async function seedFromEvents(
  store: UserStore,
  stats: ItemStats,
  file: string,
  items: ItemIds,
  now: number,
  options: SeedOptions = {},
): Promise<SeedResult> {
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 4096));
  const yieldEvery = Math.max(1, Math.floor(options.yieldEvery ?? 2048));
  const users = new Set<string>();
  let batch: EngineEvent[] = [];
  let events = 0;
  let skipped = 0;
  let lineNo = 0;

  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await store.apply(batch, now, items);
    stats.apply(batch);
    for (const e of batch) users.add(e.userId);
    events += batch.length;
    batch = [];
  };

  const input = createReadStream(file, { encoding: 'utf8' });
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      lineNo++;
      if (line.trim().length > 0) {
        const e = parseLine(line, `${file}:${lineNo}`, items.rowOf);
        if (e === null) skipped++;
        else if (batch.push(e) >= batchSize) await flush();
      }
      if (lineNo % yieldEvery === 0) await new Promise(setImmediate);
    }
    await flush();
  } finally {
    rl.close();
    input.destroy();
  }
  return { users: users.size, events, skipped };
}
