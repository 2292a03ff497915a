// Reads the world's interaction log (events.jsonl) grouped by user.
import { createReadStream } from 'node:fs';
import * as readline from 'node:readline';

import { Action } from './schema';

export interface UserEvent {
  item: string;
  action: Action;
  ts: number;
}

/** All events, or those of the given users, grouped by user id in time order. */
export async function readEventsByUser(file: string, only?: ReadonlySet<string>): Promise<Map<string, UserEvent[]>> {
  const out = new Map<string, UserEvent[]>();
  const rl = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.length === 0) continue;
    const e = JSON.parse(line) as { user: string; item: string; action: Action; ts: number };
    if (only && !only.has(e.user)) continue;
    let list = out.get(e.user);
    if (!list) out.set(e.user, (list = []));
    list.push({ item: e.item, action: e.action, ts: e.ts });
  }
  return out;
}
