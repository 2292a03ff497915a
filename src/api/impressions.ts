// Which Ranks go to the impression log (--impression-log, a sampled share),
// and what of them: the request's context and, per served item, its place,
// provenance, every stage's score, the objective probabilities and the
// policy's propensity (state/impression-log.ts has the line format). A Rank
// is answered without waiting for its line to be written; a line that cannot
// be written (the log is behind or failing) is counted, never retried.
import type { Logger } from 'pino';

import type { Metrics } from '../metrics/metrics';
import type { Engine } from '../pipeline/engine';
import type { RankInput, RankOutput } from '../pipeline/request';
import { ImpressionLog, LoggedImpression } from '../state/impression-log';

const PROVENANCE_NAMES = { 1: 'retrieved', 2: 'fresh', 3: 'provided' } as const;

export interface ServedProfile {
  profile: string;
  experiment?: string;
  bucket?: string;
}

export class ImpressionRecorder {
  constructor(
    private readonly log: ImpressionLog,
    /** Share of Ranks logged, in [0, 1]. */
    private readonly sample: number,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /** Whether this Rank is logged (decided before it runs: a logged Rank keeps every stage's score). */
  sampled(): boolean {
    return this.sample >= 1 || (this.sample > 0 && Math.random() < this.sample);
  }

  /** The line for a served Rank. */
  static line(input: RankInput, out: RankOutput, engine: Engine, served: ServedProfile, now: number): LoggedImpression {
    const { catalog } = engine;
    const o = input.options;
    return {
      id: input.requestId,
      ts: now,
      user: input.userId,
      surface: input.surface,
      device: input.device,
      ...(input.category !== undefined ? { category: catalog.categories.names[input.category] } : {}),
      ...(served.profile ? { profile: served.profile } : {}),
      ...(served.experiment ? { experiment: served.experiment, bucket: served.bucket } : {}),
      bundle: out.bundleVersion,
      exploration: o.epsilon > 0 ? o.exploration : 'none',
      epsilon: o.epsilon,
      objectives: [...engine.bundle.manifest.objectives],
      weights: Array.from(input.weights),
      ...(out.userFeatures ? { layout: engine.bundle.manifest.features.layout, uf: Buffer.from(out.userFeatures.buffer, out.userFeatures.byteOffset, out.userFeatures.byteLength).toString('base64') } : {}),
      items: out.items.map((it, i) => ({
        item: catalog.ids[it.row],
        pos: i + 1,
        prov: PROVENANCE_NAMES[it.provenance],
        score: it.score,
        p: Array.from(it.objectives),
        stages: Object.fromEntries((it.stageScores ?? []).map((s) => [s.stage, s.score])),
        explored: it.exploration,
        propensity: it.propensity ?? 1,
      })),
    };
  }

  /**
   * Takes the Rank's line, then drops the stage scores from `out` unless the
   * request asked for debug (a logged Rank keeps them for the line only), and
   * appends the line; resolves when written or dropped (never rejects).
   */
  record(input: RankInput, out: RankOutput, engine: Engine, served: ServedProfile): Promise<void> {
    const m = this.metrics.impressionsLogged;
    let line: LoggedImpression;
    try {
      line = ImpressionRecorder.line(input, out, engine, served, out.now ?? engine.now());
    } catch (err) {
      m.inc({ result: 'failed' });
      this.logger.warn({ err: (err as Error).message }, 'impression not logged');
      return Promise.resolve();
    } finally {
      if (!input.debug) for (const it of out.items) it.stageScores = undefined;
    }
    return this.log.append([line]).then(
      () => void m.inc({ result: 'written' }),
      (err: Error) => {
        m.inc({ result: err.name === 'JournalFullError' ? 'dropped' : 'failed' });
        if (err.name !== 'JournalFullError') this.logger.warn({ err: err.message }, 'impression log write failed');
      },
    );
  }

  /** Writes what is queued, then closes the log. */
  close(): Promise<void> {
    return this.log.close();
  }
}
