// The ranker's training data from the logs, as the ranker saw it: per served
// item of every logged Rank, its input x0 = [the logged user features | the
// item part at the Rank's time] (models/layout.ts, the serving code), its
// position, and its labels: the click, wishlist, cart and purchase the same
// user made on that item within the session (the events log). Nothing of
// the world's truth is read. When the two-tower model was trained first, the
// user embedding and preferred price come from its tower and the item
// embeddings from its item table (RecomputedFeatures), as the new bundle
// will serve them.
//
// Writes DIR/x.npy (N x inputDim float32), DIR/y.npy (N x objectives, 0/1),
// DIR/pos.npy (N, 1-based positions as float32), DIR/w.npy (N x objectives:
// the request's weights), DIR/page.npy (N: the logged Rank each row is of),
// DIR/items_x.npy (every item's part at the last page's time, for the
// pre-ranker's candidate lists) and DIR/meta.json.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { Bundle } from '../../src/bundle/loader';
import { writeNpyFloat32 } from '../../src/bundle/npy';
import { featureLayout, gatherItemFeatures } from '../../src/models/layout';
import { DAY_MS } from '../world/schema';
import type { LoggedImpression } from '../../src/state/impression-log';
import { pairKey, readActions, readImpressions, SESSION_MS } from '../logs';

export interface ExportSummary {
  pages: number;
  rows: number;
  inputDim: number;
  positives: Record<string, number>;
}

/** The logged Ranks the ranker learns from: those with user features, before `until`. */
export async function rankerLines(logs: string, bundle: Bundle, until = Infinity): Promise<LoggedImpression[]> {
  const lines = (await readImpressions(path.join(logs, 'impressions'))).filter((l) => l.uf !== undefined && l.ts < until);
  if (lines.length === 0) throw new Error(`${logs}/impressions holds no logged Rank with user features${Number.isFinite(until) ? ' before --until' : ''}`);
  if (lines.some((l) => l.layout !== bundle.manifest.features.layout)) throw new Error(`the log's feature layout is not the bundle's (${bundle.manifest.features.layout})`);
  return lines;
}

/**
 * What the ranker is trained on when the two-tower model is trained too: its
 * item embeddings, and per line the new user embedding and preferred price
 * (the first d + 1 user features; the context part stays as logged).
 */
export interface RecomputedFeatures {
  embeddings: Float32Array;
  pageUser: Float32Array;
}

export async function exportRankerData(logs: string, bundle: Bundle, lines: LoggedImpression[], out: string, redo?: RecomputedFeatures): Promise<ExportSummary> {
  const m = bundle.manifest;
  const layout = featureLayout(m.embeddingDim);
  const d = m.embeddingDim;
  const first = Math.min(...lines.map((l) => l.ts));
  const actions = await readActions(path.join(logs, 'events.jsonl'), m.objectives, first);
  const D = layout.userDim + layout.itemDim;
  const H = m.objectives.length;
  const N = lines.reduce((a, l) => a + l.items.length, 0);
  const x = new Float32Array(N * D);
  const y = new Float32Array(N * H);
  const pos = new Float32Array(N);
  const w = new Float32Array(N * H);
  const page = new Float32Array(N);
  const positives: Record<string, number> = Object.fromEntries(m.objectives.map((o) => [o, 0]));
  const isNew = new Uint8Array(bundle.items.n);
  const newMs = m.features.newItemDays * DAY_MS;
  /** Whether item `r` counts as new at time `t` (the engine's rule). */
  const newAt = (r: number, t: number): 0 | 1 => (bundle.items.createdAt[r] <= t && t - bundle.items.createdAt[r] < newMs ? 1 : 0);
  let n = 0;
  for (const [li, l] of lines.entries()) {
    const buf = Buffer.from(l.uf!, 'base64');
    const uf = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (uf.length !== layout.userDim) throw new Error(`request ${l.id}: ${uf.length} user features, the layout has ${layout.userDim}`);
    if (redo) uf.set(redo.pageUser.subarray(li * (d + 1), (li + 1) * (d + 1)));
    const rows = Int32Array.from(l.items, (it) => bundle.items.rowOf.get(it.item) ?? -1);
    if (rows.some((r) => r < 0)) throw new Error(`request ${l.id} served an item the bundle does not have`);
    for (const r of rows) isNew[r] = newAt(r, l.ts);
    const items = gatherItemFeatures(layout, { embeddings: redo?.embeddings ?? bundle.embeddings, logPrice: bundle.items.logPrice, isNew, popularity: bundle.bias }, rows);
    l.items.forEach((it, i) => {
      x.set(uf, n * D);
      x.set(items.subarray(i * layout.itemDim, (i + 1) * layout.itemDim), n * D + layout.userDim);
      pos[n] = it.pos;
      page[n] = li;
      for (let o = 0; o < H; o++) w[n * H + o] = l.weights[o] ?? 0;
      const acts = actions.get(pairKey(l.user, it.item));
      for (let o = 0; o < H; o++) {
        const hit = acts?.[o].some((t) => t >= l.ts && t < l.ts + SESSION_MS) ?? false;
        if (hit) {
          y[n * H + o] = 1;
          positives[m.objectives[o]]++;
        }
      }
      n++;
    });
  }
  await fs.mkdir(out, { recursive: true });
  // Every item's part at the last page's time: the pre-ranker's candidates are rebuilt from it.
  const last = lines[lines.length - 1].ts;
  for (let r = 0; r < bundle.items.n; r++) isNew[r] = newAt(r, last);
  const all = Int32Array.from({ length: bundle.items.n }, (_, r) => r);
  const itemsX = gatherItemFeatures(layout, { embeddings: redo?.embeddings ?? bundle.embeddings, logPrice: bundle.items.logPrice, isNew, popularity: bundle.bias }, all);
  await writeNpyFloat32(path.join(out, 'items_x.npy'), [bundle.items.n, layout.itemDim], itemsX);
  await writeNpyFloat32(path.join(out, 'x.npy'), [N, D], x);
  await writeNpyFloat32(path.join(out, 'y.npy'), [N, H], y);
  await writeNpyFloat32(path.join(out, 'pos.npy'), [N], pos);
  await writeNpyFloat32(path.join(out, 'w.npy'), [N, H], w);
  await writeNpyFloat32(path.join(out, 'page.npy'), [N], page);
  const summary: ExportSummary = { pages: lines.length, rows: N, inputDim: D, positives };
  await fs.writeFile(path.join(out, 'meta.json'), JSON.stringify({ ...summary, objectives: m.objectives, layout: m.features.layout, userDim: layout.userDim, biasWeight: m.lightModel?.biasWeight ?? 0 }, null, 2));
  return summary;
}
