// Interaction logs sampled from the truth, like a shop's event stream:
// clicks are the most frequent action, then wishlist, cart and purchase.
// Each user browses a candidate pool (mostly from the preferred categories,
// some popular items from anywhere), clicks items in proportion to their true
// P(click) on the home surface, and follows up with the conditional chances of
// wishlist / cart / purchase. Times fall in the 60 days before referenceTime.
import { Rng } from '../../src/util/random';
import { Catalog } from './catalog';
import { trueProbabilities, TruthCoefficients } from './truth';
import { Users } from './users';
import { Action, DAY_MS, WorldConfig } from './schema';
import { DEVICES } from '../../src/models/schema';

export interface LogEvent {
  user: number;
  item: number;
  action: Action;
  /** ms since the epoch */
  ts: number;
}

const POOL = 300;
const FOLLOW_UP_MARGIN_MS = 2 * 3_600_000;

export function sampleLogs(cfg: WorldConfig, truth: TruthCoefficients, cat: Catalog, users: Users, rng: Rng): LogEvent[] {
  const r = rng.fork(3);
  const C = cat.categoryNames.length;
  const byCat: number[][] = Array.from({ length: C }, () => []);
  for (let i = 0; i < cat.n; i++) byCat[cat.category[i]].push(i);
  const ref = Date.parse(cfg.referenceTime);
  const events: LogEvent[] = [];
  const pool = new Int32Array(POOL);
  const probs = new Float32Array(POOL * 4);
  const keys = new Float64Array(POOL);
  for (let u = 0; u < users.n; u++) {
    const nClicks = users.isNewUser[u]
      ? 1 + r.int(4)
      : Math.min(cfg.maxActions, 8 + r.int(Math.max(1, Math.floor(cfg.maxActions * 0.6))));
    const cats = users.categories[u];
    const w = users.weights[u];
    for (let k = 0; k < POOL; k++) {
      if (r.next() < 0.8) {
        let x = r.next();
        let j = 0;
        while (j < w.length - 1 && x >= w[j]) x -= w[j++];
        const items = byCat[cats[j]];
        pool[k] = items[r.int(items.length)];
      } else {
        pool[k] = r.int(cat.n);
      }
    }
    const ctx = { surface: 'home' as const, device: DEVICES[users.device[u]] };
    trueProbabilities(truth, cat, users, u, pool, ctx, probs);
    // Weighted sampling without replacement (Gumbel top-n on log P(click)).
    for (let k = 0; k < POOL; k++) keys[k] = Math.log(probs[k * 4] + 1e-12) - Math.log(-Math.log(1 - r.next() + 1e-300));
    const order = Array.from({ length: POOL }, (_, k) => k).sort((a, b) => keys[b] - keys[a]);
    const seen = new Set<number>();
    const times: number[] = [];
    // Clicks end two hours before referenceTime, so follow-ups (at most ~1.5 h
    // later) never land after it.
    for (let c = 0; c < nClicks; c++) times.push(ref - FOLLOW_UP_MARGIN_MS - r.next() * (60 * DAY_MS - FOLLOW_UP_MARGIN_MS));
    times.sort((a, b) => a - b);
    let t = 0;
    const start = events.length;
    for (const k of order) {
      if (t >= nClicks || events.length - start >= cfg.maxActions) break;
      const item = pool[k];
      if (seen.has(item)) continue;
      seen.add(item);
      const ts = Math.floor(times[t++]);
      const [pc, pw, pcart, pbuy] = [probs[k * 4], probs[k * 4 + 1], probs[k * 4 + 2], probs[k * 4 + 3]];
      // The whole chain is drawn first, then kept only if it fits the user's cap.
      const chain: LogEvent[] = [{ user: u, item, action: 'click', ts }];
      if (r.next() < Math.min(1, pw / pc)) chain.push({ user: u, item, action: 'wishlist', ts: ts + 30_000 + r.int(600_000) });
      if (r.next() < Math.min(1, pcart / pc)) {
        const tc = ts + 60_000 + r.int(1_800_000);
        chain.push({ user: u, item, action: 'cart', ts: tc });
        if (r.next() < Math.min(1, pbuy / pcart)) chain.push({ user: u, item, action: 'purchase', ts: tc + 60_000 + r.int(3_600_000) });
      }
      if (events.length - start + chain.length > cfg.maxActions) break;
      events.push(...chain);
    }
  }
  events.sort((a, b) => a.ts - b.ts || a.user - b.user);
  return events;
}
