// Stage 6: one score per candidate from the objective probabilities, with the
// request's weights (steering): score = sum_o w_o P(o), or the bundle's
// learned ensemble of P and w (models/ensemble.ts) when the request asks.
import type { RankContext, Stage } from '../pipeline/context';
import type { Candidates } from '../pipeline/types';
import { ensembleScores } from '../models/ensemble';

export const ensembleStage: Stage = {
  id: 'ensemble',
  // Without the ensemble the candidates keep the previous stage's scores.
  skip: (_ctx, c) => c,
  run(ctx: RankContext, c: Candidates): Candidates {
    const w = ctx.input.weights;
    const H = w.length;
    const p = c.objectives!;
    const learned = ctx.input.options.ensemble === 'learned' ? ctx.deps.bundle.ensemble : undefined;
    if (learned) {
      c.scores = ensembleScores(learned, p, w, c.rows.length);
      ctx.note = `learned ensemble (${learned.hidden.join('x')}), weights ${Array.from(w, (x) => +x.toFixed(3)).join('/')}`;
      return c;
    }
    const s = new Float32Array(c.rows.length);
    for (let i = 0; i < s.length; i++) {
      let v = 0;
      for (let o = 0; o < H; o++) v += w[o] * p[i * H + o];
      s[i] = v;
    }
    c.scores = s;
    ctx.note = `weights ${Array.from(w, (x) => +x.toFixed(3)).join('/')}`;
    return c;
  },
};
