// Reactivity, measured after everything else (it changes the users' state):
// for a sub-sample of users, a Rank call, a burst of RecordEvents (clicks,
// then carts) on items of a category the user does not favour, and the same
// Rank again.
import { ActionType, RankRequest } from '../../src/client';
import { Rng } from '../../src/util/random';
import { countWhere, meanInterval } from './metrics';
import { shuffle } from './sample';
import { WIRE_DEVICE } from './serve';
import type { EvalSession } from './session';
import { EvalReport, NO_EXPLORATION, NUM_RESULTS } from './types';

/** Catalog rows by category. */
function rowsByCategory(category: Int32Array): Map<number, number[]> {
  const byCategory = new Map<number, number[]>();
  for (let r = 0; r < category.length; r++) {
    const c = category[r];
    let l = byCategory.get(c);
    if (!l) byCategory.set(c, (l = []));
    l.push(r);
  }
  return byCategory;
}

/** One user's burst: items of the burst's category in the top 20 before, after, and after without the clicked ones. */
interface Burst {
  before: number;
  after: number;
  afterOther: number;
  sent: number;
  accepted: number;
}

/**
 * For a seeded sub-sample of the users: Rank (home surface, default knobs,
 * exploration NONE), then RecordEvents with a burst of clicks on random items
 * of a category the user neither favours (truth) nor has in that top 20, and
 * carts on the first few of them, then the same Rank again.
 */
export async function measureReactivity(s: EvalSession, sampled: number[]): Promise<EvalReport['reactivity']> {
  const { cfg } = s;
  const clicks = cfg.reactivityClicks ?? 8;
  const carts = Math.min(clicks, cfg.reactivityCarts ?? 2);
  const rng = new Rng((cfg.seed * 7919 + 17) >>> 0);
  const chosen = shuffle([...sampled], rng).slice(0, Math.min(cfg.reactivityUsers ?? 100, sampled.length));
  const byCategory = rowsByCategory(s.bundle.items.category.subarray(0, s.bundle.items.n));
  const bursts: Burst[] = [];
  for (const u of chosen) {
    const b = await burst(s, u, byCategory, rng, clicks, carts);
    if (b) bursts.push(b);
  }
  s.log(`reactivity: ${bursts.length} users`);
  const before = bursts.map((b) => b.before);
  const after = bursts.map((b) => b.after);
  return {
    note:
      `home surface, default knobs, exploration NONE; per user: Rank, then RecordEvents with ${clicks} clicks on random items of one category that the user neither favours (ground truth) ` +
      `nor has in that top 20 (any unfavoured category when none is left), then carts on ${carts} of them (timestamps: now), then the same Rank; counts are items of that category in the top 20`,
    users: before.length,
    clicks,
    carts,
    before: meanInterval(before),
    after: meanInterval(after),
    afterOtherItems: meanInterval(bursts.map((b) => b.afterOther)),
    usersWithAnyBefore: before.length > 0 ? countWhere(before, (x) => x > 0) / before.length : 0,
    usersWithAnyAfter: after.length > 0 ? countWhere(after, (x) => x > 0) / after.length : 0,
    eventsSent: bursts.reduce((a, b) => a + b.sent, 0),
    eventsAccepted: bursts.reduce((a, b) => a + b.accepted, 0),
  };
}

/** User u's Rank, burst of events and second Rank (null: no category has enough items to click). */
async function burst(s: EvalSession, u: number, byCategory: Map<number, number[]>, rng: Rng, clicks: number, carts: number): Promise<Burst | null> {
  const { client, bundle } = s;
  const info = s.truth.users.info[u];
  const req: RankRequest = {
    user_id: info.id,
    context: { surface: 'SURFACE_HOME', device: WIRE_DEVICE[info.device] },
    num_results: NUM_RESULTS,
    options: { ...NO_EXPLORATION, seed: (s.cfg.seed * 1_000_003 + u) >>> 0 || 1 },
  };
  const first = await client.rank(req);
  const shown = new Set(first.items.slice(0, 20).map((it) => it.category));
  const fav = new Set(info.categories);
  const names = bundle.items.categoryNames;
  const enough = (c: number) => (byCategory.get(c)?.length ?? 0) >= clicks;
  let options = names.map((_, c) => c).filter((c) => enough(c) && !fav.has(names[c]) && !shown.has(names[c]));
  if (options.length === 0) options = names.map((_, c) => c).filter((c) => enough(c) && !fav.has(names[c]));
  if (options.length === 0) return null;
  const target = options[Math.floor(rng.next() * options.length)];
  const pool = byCategory.get(target)!.slice();
  const picked: number[] = [];
  for (let i = 0; i < clicks; i++) {
    const j = i + Math.floor(rng.next() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
    picked.push(pool[i]);
  }
  const ev = (r: number, type: ActionType) => ({ user_id: info.id, item_id: bundle.items.ids[r], type, timestamp_ms: 0 });
  const events = [...picked.map((r) => ev(r, 'ACTION_TYPE_CLICK')), ...picked.slice(0, carts).map((r) => ev(r, 'ACTION_TYPE_CART'))];
  const ack = await client.recordEvents({ events });
  const second = await client.rank(req);
  const name = names[target];
  const clickedIds = new Set(picked.map((r) => bundle.items.ids[r]));
  return {
    before: countWhere(first.items, (it) => it.category === name, 20),
    after: countWhere(second.items, (it) => it.category === name, 20),
    afterOther: countWhere(second.items, (it) => it.category === name && !clickedIds.has(it.item_id), 20),
    sent: events.length,
    accepted: ack.accepted,
  };
}
