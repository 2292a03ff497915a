// The two-tower model's training data from the logs, as the engine held it.
//
// A user's sequence is their last `maxActions` non-impression events (the
// user store's ring), oldest first. Per engagement (a click, wishlist, cart
// or purchase of an item the user had not acted on before) one example: the
// sequence just before it, the item engaged with, and the request's context
// (surface, device) when a logged page served that item to that user in its
// session (0 = unknown: an engagement of the seed history; the context tower
// is a training-only term). Engagements at or after `until` are held out for
// evaluation (a time split). Per logged page
// (the ranker's rows, export.ts) the sequence at the page's time too, so the
// ranker's user features can be recomputed with the trained tower.
//
// Writes DIR/tt_*.npy (float32; rows are catalog rows, -1 = padding, padded
// at the start as the engine pads) and DIR/tt_meta.json.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { Bundle } from '../../src/bundle/loader';
import { writeNpyFloat32 } from '../../src/bundle/npy';
import { ACTION, DEVICES, SURFACES } from '../../src/models/schema';
import type { LoggedImpression } from '../../src/state/impression-log';
import { DAY_MS } from '../world/schema';
import { pairKey, SESSION_MS } from '../logs';

export interface SequenceSummary {
  train: number;
  heldOut: number;
  pages: number;
  maxActions: number;
}

interface UserEvents {
  rows: number[];
  codes: number[];
  ts: number[];
}

/** Every event of the file by user, time-ordered (impressions kept: they are context, not sequence). */
async function readUserEvents(file: string, bundle: Bundle): Promise<Map<string, UserEvents>> {
  const users = new Map<string, UserEvents>();
  for (const l of (await fs.readFile(file, 'utf8')).split('\n')) {
    if (!l) continue;
    const e = JSON.parse(l) as { user: string; item: string; action: string; ts: number };
    const code = (ACTION as Record<string, number>)[e.action];
    const row = bundle.items.rowOf.get(e.item);
    if (code === undefined || row === undefined) continue;
    let u = users.get(e.user);
    if (!u) users.set(e.user, (u = { rows: [], codes: [], ts: [] }));
    u.rows.push(row);
    u.codes.push(code);
    u.ts.push(e.ts);
  }
  for (const u of users.values()) {
    const order = u.ts.map((_, i) => i).sort((a, b) => u.ts[a] - u.ts[b] || a - b);
    u.rows = order.map((i) => u.rows[i]);
    u.codes = order.map((i) => u.codes[i]);
    u.ts = order.map((i) => u.ts[i]);
  }
  return users;
}

/** Sequences (rows, codes, ages in days at `at[k]`) of up to L actions, one per call of add(). */
class SequenceTable {
  readonly rows: Float32Array;
  readonly codes: Float32Array;
  readonly ages: Float32Array;
  n = 0;
  constructor(readonly capacity: number, readonly L: number) {
    this.rows = new Float32Array(capacity * L).fill(-1);
    this.codes = new Float32Array(capacity * L);
    this.ages = new Float32Array(capacity * L);
  }
  /** The user's last L non-impression actions among events [0, end), seen at time `now`. */
  add(u: UserEvents, end: number, now: number): number {
    const at = this.n++;
    let k = this.L - 1;
    for (let j = end - 1; j >= 0 && k >= 0; j--) {
      if (u.codes[j] === ACTION.impression) continue;
      const o = at * this.L + k--;
      this.rows[o] = u.rows[j];
      this.codes[o] = u.codes[j];
      this.ages[o] = Math.max(0, (now - u.ts[j]) / DAY_MS);
    }
    return at;
  }
  async write(dir: string, prefix: string): Promise<void> {
    const shape = [this.n, this.L];
    const cut = (a: Float32Array) => a.subarray(0, this.n * this.L);
    await writeNpyFloat32(path.join(dir, `${prefix}_rows.npy`), shape, cut(this.rows));
    await writeNpyFloat32(path.join(dir, `${prefix}_code.npy`), shape, cut(this.codes));
    await writeNpyFloat32(path.join(dir, `${prefix}_age.npy`), shape, cut(this.ages));
  }
}

/** Index of the first event at or after `ts` (events sorted by time). */
function firstAtOrAfter(ts: number[], t: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Writes the two-tower data for `lines` (the logged pages, in the ranker
 * export's order) and the events file into `out`.
 */
export async function exportSequences(eventsFile: string, lines: LoggedImpression[], bundle: Bundle, out: string, until = Infinity, maxActions = 50): Promise<SequenceSummary> {
  const users = await readUserEvents(eventsFile, bundle);
  // The context a logged page gave each item it served, for the session after it.
  const served = new Map<string, { ts: number; ctx: [number, number] }[]>();
  for (const l of lines) {
    const ctx: [number, number] = [SURFACES.indexOf(l.surface as never) + 1, DEVICES.indexOf(l.device as never) + 1];
    for (const it of l.items) {
      const k = pairKey(l.user, it.item);
      let list = served.get(k);
      if (!list) served.set(k, (list = []));
      list.push({ ts: l.ts, ctx });
    }
  }
  let engagements = 0;
  for (const u of users.values()) for (const c of u.codes) if (c !== ACTION.impression) engagements++;
  const train = new SequenceTable(engagements, maxActions);
  const held = new SequenceTable(engagements, maxActions);
  const target = { train: new Float32Array(engagements), held: new Float32Array(engagements) };
  const ctx = new Float32Array(engagements * 2);
  for (const [user, u] of users) {
    const acted = new Set<number>();
    for (let j = 0; j < u.rows.length; j++) {
      if (u.codes[j] === ACTION.impression) continue;
      // The first engagement with an item, by a user with a history before it.
      const hadHistory = acted.size > 0;
      const first = !acted.has(u.rows[j]);
      acted.add(u.rows[j]);
      if (!first || !hadHistory) continue;
      const side = u.ts[j] >= until ? 'held' : 'train';
      const table = side === 'held' ? held : train;
      const at = table.add(u, firstAtOrAfter(u.ts, u.ts[j]), u.ts[j]);
      target[side][at] = u.rows[j];
      if (side === 'held') continue;
      const page = served.get(pairKey(user, bundle.items.ids[u.rows[j]]))?.filter((s) => s.ts <= u.ts[j] && u.ts[j] < s.ts + SESSION_MS).pop();
      if (page) ctx.set(page.ctx, at * 2);
    }
  }
  const pages = new SequenceTable(lines.length, maxActions);
  for (const l of lines) {
    const u = users.get(l.user);
    if (u) pages.add(u, firstAtOrAfter(u.ts, l.ts), l.ts);
    else pages.n++;
  }
  await fs.mkdir(out, { recursive: true });
  await train.write(out, 'tt_train');
  await held.write(out, 'tt_held');
  await pages.write(out, 'tt_page');
  await writeNpyFloat32(path.join(out, 'tt_train_target.npy'), [train.n], target.train.subarray(0, train.n));
  await writeNpyFloat32(path.join(out, 'tt_held_target.npy'), [held.n], target.held.subarray(0, held.n));
  await writeNpyFloat32(path.join(out, 'tt_train_ctx.npy'), [train.n, 2], ctx.subarray(0, train.n * 2));
  const d = bundle.manifest.embeddingDim;
  await writeNpyFloat32(path.join(out, 'tt_item_emb.npy'), [bundle.items.n, d], bundle.embeddings);
  await writeNpyFloat32(path.join(out, 'tt_item_logprice.npy'), [bundle.items.n], bundle.items.logPrice);
  const summary: SequenceSummary = { train: train.n, heldOut: held.n, pages: lines.length, maxActions };
  await fs.writeFile(path.join(out, 'tt_meta.json'), JSON.stringify({ ...summary, surfaces: SURFACES, devices: DEVICES, until: Number.isFinite(until) ? until : null }, null, 2));
  return summary;
}
