// Reading what a run logged (the simulator, or a deployment with
// --impression-log and its events): the impression log's lines and, per
// (user, item), the times of chosen actions in the events file.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { LoggedImpression, parseImpression } from '../src/state/impression-log';

/** Every well-formed line of the impression log in `dir`, in segment order. */
export async function readImpressions(dir: string): Promise<LoggedImpression[]> {
  const out: LoggedImpression[] = [];
  for (const f of (await fs.readdir(dir)).filter((f) => f.endsWith('.jsonl')).sort()) {
    for (const l of (await fs.readFile(path.join(dir, f), 'utf8')).split('\n')) {
      const r = l ? parseImpression(l) : null;
      if (r) out.push(r);
    }
  }
  return out;
}

/** A session's actions fall within this long after its page (tools/simulate.ts). */
export const SESSION_MS = 5000;

/** The key of a (user, item) pair in readActions' map. */
export const pairKey = (user: string, item: string): string => `${user}\u0000${item}`;

/** (user, item) -> per action of `actions`, the times it happened, from `since` on (events.jsonl: {"user","item","action","ts"}). */
export async function readActions(file: string, actions: readonly string[], since: number): Promise<Map<string, number[][]>> {
  const out = new Map<string, number[][]>();
  for (const l of (await fs.readFile(file, 'utf8')).split('\n')) {
    if (!l) continue;
    const e = JSON.parse(l) as { user: string; item: string; action: string; ts: number };
    const o = actions.indexOf(e.action);
    if (o < 0 || e.ts < since) continue;
    const k = pairKey(e.user, e.item);
    let lists = out.get(k);
    if (!lists) out.set(k, (lists = actions.map(() => [])));
    lists[o].push(e.ts);
  }
  return out;
}
