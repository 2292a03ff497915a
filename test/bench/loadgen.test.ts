// Unit tests of the open-loop load generator's pure parts: the schedule, the
// coordinated-omission correction (synthetic send/receive times, no server),
// and the percentile / error / throughput accounting.
import assert from 'node:assert/strict';

import { methodOf } from '../../bench/loadgen/client';
import { latencySvg } from '../../bench/loadgen/report';
import { buildSchedule, CallTiming, LatencyRecorder, mulberry32, parseProcStatCpuUs, summarize, workerShare } from '../../bench/loadgen/schedule';
import { saturationEstimate } from '../../bench/loadgen/sweep';

/** Closed-loop-style sender on one connection: a call cannot go out before the previous one returned. */
function simulateBlockedSender(schedule: Float64Array, serviceMs: (sentMs: number) => number): CallTiming[] {
  const out: CallTiming[] = [];
  let free = 0;
  for (const s of schedule) {
    const sentMs = Math.max(s, free);
    const doneMs = sentMs + serviceMs(sentMs);
    free = doneMs;
    out.push({ scheduledMs: s, sentMs, doneMs, status: 'OK' });
  }
  return out;
}

describe('loadgen schedule', () => {
  it('constant arrivals: rate x duration calls, evenly spaced from 0', () => {
    const s = buildSchedule({ rate: 100, durationS: 2, process: 'constant', seed: 1 });
    assert.equal(s.length, 200);
    assert.equal(s[0], 0);
    for (let i = 1; i < s.length; i++) assert.ok(Math.abs(s[i] - s[i - 1] - 10) < 1e-9);
    assert.ok(s[s.length - 1] < 2000);
  });

  it('Poisson arrivals: seeded, ascending, inside the run, mean gap 1/rate', () => {
    const a = buildSchedule({ rate: 1000, durationS: 10, process: 'poisson', seed: 42 });
    const b = buildSchedule({ rate: 1000, durationS: 10, process: 'poisson', seed: 42 });
    const c = buildSchedule({ rate: 1000, durationS: 10, process: 'poisson', seed: 43 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    // 10 000 expected, sd 100: 5 sd.
    assert.ok(Math.abs(a.length - 10_000) < 500, `count ${a.length}`);
    let cv = 0;
    for (let i = 1; i < a.length; i++) {
      assert.ok(a[i] >= a[i - 1]);
      cv += (a[i] - a[i - 1] - 1) ** 2;
    }
    assert.ok(a[0] >= 0 && a[a.length - 1] < 10_000);
    // Exponential gaps: sd = mean = 1 ms (coefficient of variation 1, unlike constant).
    const sd = Math.sqrt(cv / (a.length - 1));
    assert.ok(sd > 0.9 && sd < 1.1, `gap sd ${sd}`);
  });

  it('rejects a non-positive rate or duration', () => {
    assert.throws(() => buildSchedule({ rate: 0, durationS: 1, process: 'constant', seed: 1 }));
    assert.throws(() => buildSchedule({ rate: 10, durationS: 0, process: 'poisson', seed: 1 }));
  });

  it('mulberry32 is uniform in [0, 1)', () => {
    const r = mulberry32(7);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const v = r();
      assert.ok(v >= 0 && v < 1);
      sum += v;
    }
    assert.ok(Math.abs(sum / 10_000 - 0.5) < 0.02);
  });

  it('workers share the schedule round robin: a partition with global indices', () => {
    const s = buildSchedule({ rate: 50, durationS: 1.03, process: 'poisson', seed: 3 });
    const shares = [0, 1, 2].map((w) => workerShare(s, w, 3));
    assert.equal(
      shares.reduce((a, x) => a + x.offsets.length, 0),
      s.length,
    );
    const seen = new Set<number>();
    for (const { offsets, indices } of shares) {
      for (let k = 0; k < offsets.length; k++) {
        assert.equal(offsets[k], s[indices[k]]);
        seen.add(indices[k]);
      }
    }
    assert.equal(seen.size, s.length);
    assert.ok(Math.max(...shares.map((x) => x.offsets.length)) - Math.min(...shares.map((x) => x.offsets.length)) <= 1);
    assert.throws(() => workerShare(s, 3, 3));
  });

  it('rank+events sends one RecordEvents per five Rank calls', () => {
    const m = Array.from({ length: 600 }, (_, i) => methodOf(i, 'rank+events'));
    assert.equal(m.filter((x) => x === 'RecordEvents').length, 100);
    assert.equal(m.filter((x) => x === 'Rank').length, 500);
    assert.ok(Array.from({ length: 60 }, (_, i) => methodOf(i, 'rank')).every((x) => x === 'Rank'));
  });
});

describe('loadgen coordinated-omission correction', () => {
  it('a 1 s stall shows in the corrected p99 but hides from the uncorrected one', () => {
    // 100 calls/s for 10 s, 1 ms service time, except the call sent at 5 s takes 1 s;
    // the sender is blocked meanwhile (the calls that should go out during the stall go out late).
    const schedule = buildSchedule({ rate: 100, durationS: 10, process: 'constant', seed: 1 });
    const calls = simulateBlockedSender(schedule, (t) => (t === 5000 ? 1000 : 1));
    const rec = new LatencyRecorder(1000, 10_000);
    for (const c of calls) rec.record(c);
    const { corrected, uncorrected, sendLag } = rec.summary();
    assert.equal(rec.scheduled, 900);
    // Uncorrected: one slow call out of 900, p99 is the 1 ms service time.
    assert.ok(uncorrected.p99 < 2, `uncorrected p99 ${uncorrected.p99}`);
    assert.ok(uncorrected.p50 < 2);
    // Corrected: the ~100 calls scheduled during the stall waited up to 1 s: > 10% of calls are slow.
    assert.ok(corrected.p99 > 900, `corrected p99 ${corrected.p99}`);
    assert.ok(corrected.p90 > 50, `corrected p90 ${corrected.p90}`);
    assert.ok(corrected.p50 < 2);
    assert.ok(Math.abs(corrected.max - 1001) < 2, `max ${corrected.max}`);
    assert.ok(sendLag.max >= 989, `send lag max ${sendLag.max}`);
  });

  it('an on-time sender reports the same latency either way', () => {
    const schedule = buildSchedule({ rate: 200, durationS: 3, process: 'poisson', seed: 9 });
    const rec = new LatencyRecorder(0, 3000);
    for (const s of schedule) rec.record({ scheduledMs: s, sentMs: s, doneMs: s + 4, status: 'OK' });
    const { corrected, uncorrected } = rec.summary();
    assert.equal(corrected.p99, uncorrected.p99);
    assert.ok(Math.abs(corrected.p50 - 4) < 0.01);
  });
});

describe('loadgen accounting', () => {
  it('percentiles of a known distribution (hdr, 3 significant digits)', () => {
    const rec = new LatencyRecorder(0, 1000);
    // 1..1000 ms, one call each.
    for (let i = 1; i <= 1000; i++) rec.record({ scheduledMs: 0, sentMs: 0, doneMs: i, status: 'OK' });
    const s = rec.summary().corrected;
    assert.equal(s.count, 1000);
    const near = (a: number, b: number) => Math.abs(a - b) / b < 0.002;
    assert.ok(near(s.p50, 500), `p50 ${s.p50}`);
    assert.ok(near(s.p90, 900), `p90 ${s.p90}`);
    assert.ok(near(s.p99, 990), `p99 ${s.p99}`);
    assert.ok(near(s.p999, 999), `p99.9 ${s.p999}`);
    assert.ok(near(s.max, 1000));
    assert.ok(near(s.mean, 500.5));
  });

  it('excludes the warm-up by scheduled time, counts errors by status name', () => {
    const rec = new LatencyRecorder(1000, 3000);
    // Scheduled in the warm-up, completing (very late) in the window: not in the latencies, but in throughput.
    rec.record({ scheduledMs: 500, sentMs: 500, doneMs: 2500, status: 'OK' });
    rec.record({ scheduledMs: 1000, sentMs: 1000, doneMs: 1010, status: 'OK' });
    rec.record({ scheduledMs: 1100, sentMs: 1100, doneMs: 1102, status: 'UNAVAILABLE' });
    rec.record({ scheduledMs: 1200, sentMs: 1200, doneMs: 1201, status: 'RESOURCE_EXHAUSTED' });
    rec.record({ scheduledMs: 1300, sentMs: 1300, doneMs: 1301, status: 'RESOURCE_EXHAUSTED' });
    rec.record({ scheduledMs: 1400, sentMs: 1400, doneMs: 2400, status: 'DEADLINE_EXCEEDED' });
    // Scheduled in the window, completing after it: latency counts, throughput not.
    rec.record({ scheduledMs: 2990, sentMs: 2990, doneMs: 3100, status: 'OK' });
    // After the window: ignored.
    rec.record({ scheduledMs: 3000, sentMs: 3000, doneMs: 3001, status: 'INTERNAL' });
    rec.recordIncomplete(2000);
    rec.recordIncomplete(100);
    assert.equal(rec.scheduled, 7);
    assert.equal(rec.ok, 2);
    assert.deepEqual(rec.errors, { UNAVAILABLE: 1, RESOURCE_EXHAUSTED: 2, DEADLINE_EXCEEDED: 1, INCOMPLETE: 1 });
    assert.equal(rec.errorCount, 5);
    // OK and DEADLINE_EXCEEDED calls are in the histogram (10, 1000, 110 ms); fast rejections are not.
    const s = rec.summary().corrected;
    assert.equal(s.count, 3);
    assert.ok(Math.abs(s.max - 1000) < 1);
    // OK completions inside [1 s, 3 s): 2500 and 1010.
    assert.equal(rec.okInWindow, 2);
    assert.equal(rec.achievedRate, 1);
    assert.equal(rec.offeredRate, 3.5);
    assert.throws(() => new LatencyRecorder(5, 5));
  });

  it('merging worker snapshots equals recording everything in one place', () => {
    const schedule = buildSchedule({ rate: 300, durationS: 4, process: 'poisson', seed: 5 });
    const all = new LatencyRecorder(1000, 4000);
    const parts = [new LatencyRecorder(1000, 4000), new LatencyRecorder(1000, 4000)];
    const rnd = mulberry32(11);
    schedule.forEach((s, i) => {
      const c: CallTiming = { scheduledMs: s, sentMs: s + rnd(), doneMs: s + 1 + 30 * rnd() ** 3, status: i % 97 === 0 ? 'UNAVAILABLE' : 'OK' };
      all.record(c);
      parts[i % 2].record(c);
    });
    const merged = new LatencyRecorder(1000, 4000);
    for (const p of parts) merged.merge(JSON.parse(JSON.stringify(p.snapshot())));
    // Equal up to hdr's 3 significant digits (add() keeps a bucket's highest equivalent value as max).
    const a = all.summary();
    const m = merged.summary();
    for (const k of ['corrected', 'uncorrected', 'sendLag'] as const) {
      assert.equal(m[k].count, a[k].count);
      for (const q of ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const) assert.ok(Math.abs(m[k][q] - a[k][q]) <= 0.001 * a[k][q] + 1e-9, `${k} ${q}: ${m[k][q]} vs ${a[k][q]}`);
    }
    assert.deepEqual(merged.errors, all.errors);
    assert.equal(merged.okInWindow, all.okInWindow);
    assert.equal(merged.scheduled, all.scheduled);
    assert.throws(() => new LatencyRecorder(0, 4000).merge(parts[0].snapshot()));
  });

  it('an empty histogram summarizes to NaN', () => {
    assert.ok(Number.isNaN(summarize(new LatencyRecorder(0, 1).corrected).p99));
  });

  it('reads CPU time from /proc/PID/stat, command names with spaces included', () => {
    const stat = '1234 (node main) x) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 50 0 0 20 0 11 0 100 0 0';
    assert.equal(parseProcStatCpuUs(stat, 100), 3_000_000);
  });

  it('saturation: the highest rate meeting p99, achieved and error limits', () => {
    const c = { p99LimitMs: 50, minAchievedRatio: 0.95, maxErrorRatio: 0.001 };
    const pts = [
      { offered: 50, achieved: 50, p99: 10, errorRatio: 0 },
      { offered: 100, achieved: 99, p99: 30, errorRatio: 0 },
      { offered: 200, achieved: 150, p99: 40, errorRatio: 0 }, // under-achieves
      { offered: 150, achieved: 150, p99: 45, errorRatio: 0.01 }, // errors
      { offered: 300, achieved: 300, p99: 900, errorRatio: 0 }, // too slow
    ];
    assert.equal(saturationEstimate(pts, c), 100);
    assert.equal(saturationEstimate(pts.slice(4), c), undefined);
  });

  it('draws an SVG with both series', () => {
    const svg = latencySvg(
      [
        { offered: 50, achieved: 50, p50: 5, p99: 12 },
        { offered: 100, achieved: 98, p50: 9, p99: 400 },
      ],
      'test <plot>',
      50,
      50,
    );
    assert.match(svg, /^<svg /);
    assert.equal((svg.match(/<polyline/g) ?? []).length, 2);
    assert.match(svg, /test &lt;plot>/);
    assert.match(svg, /<\/svg>\n$/);
  });
});
