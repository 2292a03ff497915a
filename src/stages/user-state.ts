// Stage 1: the user's recent actions, purchases and seen items, with the
// request's in-session actions merged in (they need not be recorded first).
import type { RankContext, Stage } from '../pipeline/context';
import type { Candidates } from '../pipeline/types';
import { emptySnapshot } from '../state/snapshot';
import type { UserSnapshot } from '../state/snapshot';
import { ACTION } from '../models/schema';
import { within } from '../util/within';

function withSessionActions(u: UserSnapshot, ctx: RankContext): UserSnapshot {
  const extra = ctx.input.recentActions;
  if (extra.length === 0) return u;
  const all = [
    ...Array.from(u.actionRows, (row, i) => ({ row, action: u.actionCodes[i], ts: u.actionTimes[i] })),
    ...extra.filter((a) => a.action !== ACTION.impression),
  ].sort((a, b) => a.ts - b.ts);
  const purchased = new Map(u.purchased);
  const seen = new Map(u.seen);
  for (const a of extra) {
    if (a.action === ACTION.purchase) purchased.set(a.row, Math.max(a.ts, purchased.get(a.row) ?? -Infinity));
    if (a.action === ACTION.impression) seen.set(a.row, Math.max(a.ts, seen.get(a.row) ?? -Infinity));
  }
  return {
    actionRows: Int32Array.from(all, (a) => a.row),
    actionCodes: Uint8Array.from(all, (a) => a.action),
    actionTimes: Float64Array.from(all, (a) => a.ts),
    purchased,
    seen,
  };
}

export const userStateStage: Stage = {
  id: 'user_state',
  // Synchronous for the in-memory store; a remote store's answer is awaited.
  run(ctx: RankContext, c: Candidates): Candidates | Promise<Candidates> {
    const done = (snap: UserSnapshot): Candidates => {
      ctx.user = withSessionActions(snap, ctx);
      ctx.note = `${ctx.user.actionRows.length} actions, ${ctx.user.purchased.size} recent purchases, ${ctx.user.seen.size} seen`;
      return c;
    };
    const snap = ctx.deps.store.snapshot(ctx.input.userId, ctx.now, ctx.deps.catalog);
    if (!(snap instanceof Promise)) return done(snap);
    // A remote store that cannot answer, or not in the time the call's
    // deadline leaves (the rest of the cascade needs its share): serve the
    // user as a new one, and say so.
    const budget = ctx.waitBudgetMs();
    const bounded = Number.isFinite(budget) ? within(snap, Math.max(0, budget), 'user store read (the call\'s deadline)') : snap;
    return bounded.then(done, (err: unknown) => {
      ctx.degradations.push('user_state_unavailable');
      const out = done(emptySnapshot());
      ctx.note = `user store unavailable (${err instanceof Error ? err.message : String(err)}): served as a new user`;
      return out;
    });
  },
};
