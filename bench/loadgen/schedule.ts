// Open-loop load generation, the pure parts: the arrival schedule (fixed
// rate, constant or seeded Poisson inter-arrivals) and the latency recorder
// with coordinated-omission correction.
//
// Coordinated omission: a client that waits for the server before sending the
// next call (or whose own event loop falls behind) sends fewer calls exactly
// when the server is slow, so the slow period is under-sampled and vanishes
// from the percentiles. Here every call has a SCHEDULED send time fixed in
// advance, and its latency is measured from that time, not from the moment
// it was actually sent: a stall of the server (or of the client) shows as the
// queue of calls that should have been sent during it, each waiting longer.
// The uncorrected latency (from the actual send) and the send lag (actual -
// scheduled) are kept too, so a reader can tell client lag from server time.
//
// All times are milliseconds relative to the run's start (t = 0 is the
// first possible send); histograms hold microseconds.
import * as hdr from 'hdr-histogram-js';

export type ArrivalProcess = 'constant' | 'poisson';

export { mulberry32 } from '../../src/util/random';
import { mulberry32 } from '../../src/util/random';

export interface ScheduleOptions {
  /** Calls per second, all workers together. */
  rate: number;
  /** Length of the schedule in seconds (warm-up included). */
  durationS: number;
  process: ArrivalProcess;
  seed: number;
}

/**
 * The send times (ms from the start, ascending, all < durationS * 1000) of
 * an open-loop run. Constant: one call every 1000 / rate ms starting at 0.
 * Poisson: exponential inter-arrivals with mean 1000 / rate ms, seeded.
 */
export function buildSchedule(o: ScheduleOptions): Float64Array {
  if (!(o.rate > 0) || !Number.isFinite(o.rate)) throw new Error(`rate must be > 0, got ${o.rate}`);
  if (!(o.durationS > 0)) throw new Error(`duration must be > 0, got ${o.durationS}`);
  const endMs = o.durationS * 1000;
  const gap = 1000 / o.rate;
  if (o.process === 'constant') {
    const n = Math.ceil(endMs / gap - 1e-9);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = i * gap;
    return out;
  }
  const rnd = mulberry32(o.seed);
  const times: number[] = [];
  let t = -Math.log(1 - rnd()) * gap;
  while (t < endMs) {
    times.push(t);
    t += -Math.log(1 - rnd()) * gap;
  }
  return Float64Array.from(times);
}

/**
 * Worker `worker` of `workers` takes every workers-th call of the schedule
 * (round robin), so the union of the workers' calls is the whole schedule
 * and each worker's share keeps the same shape at 1 / workers the rate.
 * `indices` are the calls' global numbers (they pick the user and the method).
 */
export function workerShare(schedule: Float64Array, worker: number, workers: number): { offsets: Float64Array; indices: Uint32Array } {
  if (!(workers >= 1) || worker < 0 || worker >= workers) throw new Error(`bad worker ${worker} of ${workers}`);
  const n = Math.max(0, Math.ceil((schedule.length - worker) / workers));
  const offsets = new Float64Array(n);
  const indices = new Uint32Array(n);
  for (let k = 0, i = worker; i < schedule.length; i += workers, k++) {
    offsets[k] = schedule[i];
    indices[k] = i;
  }
  return { offsets, indices };
}

export interface CallTiming {
  /** When the call should have been sent (ms from the start). */
  scheduledMs: number;
  /** When it actually was sent. */
  sentMs: number;
  /** When its response (or error) arrived. */
  doneMs: number;
  /** 'OK' or the gRPC status name (DEADLINE_EXCEEDED, UNAVAILABLE, ...). */
  status: string;
}

export interface LatencySummary {
  /** Calls in the histogram. */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface RecorderSnapshot {
  warmupMs: number;
  endMs: number;
  scheduled: number;
  ok: number;
  errors: Record<string, number>;
  completedInWindow: number;
  okInWindow: number;
  corrected: string;
  uncorrected: string;
  sendLag: string;
}

const HIGHEST_US = 600_000_000; // 10 minutes

function newHistogram(): hdr.Histogram {
  return hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

function toUs(ms: number): number {
  return Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000)));
}

/** Percentiles of a microsecond histogram, in milliseconds. */
export function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  const q = (p: number) => h.getValueAtPercentile(p) / 1000;
  return { count: h.totalCount, p50: q(50), p90: q(90), p99: q(99), p999: q(99.9), max: h.maxValue / 1000, mean: h.mean / 1000 };
}

/**
 * Latencies of the calls SCHEDULED in the measurement window
 * [warmupMs, endMs): calls scheduled during the warm-up are ignored, however
 * late they complete. The corrected histogram holds done - scheduled for the
 * OK calls and for the DEADLINE_EXCEEDED ones (they did wait that long; the
 * other errors are fast rejections and are only counted). Throughput counts
 * completions that fall inside the window, whenever they were scheduled.
 */
export class LatencyRecorder {
  readonly corrected = newHistogram();
  readonly uncorrected = newHistogram();
  readonly sendLag = newHistogram();
  /** Calls scheduled in the window (recorded so far). */
  scheduled = 0;
  ok = 0;
  readonly errors: Record<string, number> = {};
  /** Calls (any status) that completed inside the window. */
  completedInWindow = 0;
  /** OK calls that completed inside the window. */
  okInWindow = 0;

  constructor(
    readonly warmupMs: number,
    readonly endMs: number,
  ) {
    if (!(endMs > warmupMs)) throw new Error(`the measurement window is empty: warm-up ${warmupMs} ms, end ${endMs} ms`);
  }

  get windowS(): number {
    return (this.endMs - this.warmupMs) / 1000;
  }

  record(c: CallTiming): void {
    if (c.doneMs >= this.warmupMs && c.doneMs < this.endMs) {
      this.completedInWindow++;
      if (c.status === 'OK') this.okInWindow++;
    }
    if (c.scheduledMs < this.warmupMs || c.scheduledMs >= this.endMs) return;
    this.scheduled++;
    if (c.status === 'OK') this.ok++;
    else this.errors[c.status] = (this.errors[c.status] ?? 0) + 1;
    if (c.status === 'OK' || c.status === 'DEADLINE_EXCEEDED') {
      this.corrected.recordValue(toUs(c.doneMs - c.scheduledMs));
      this.uncorrected.recordValue(toUs(c.doneMs - c.sentMs));
    }
    this.sendLag.recordValue(toUs(c.sentMs - c.scheduledMs));
  }

  /** A call that never completed (the run gave up on it). */
  recordIncomplete(scheduledMs: number): void {
    if (scheduledMs < this.warmupMs || scheduledMs >= this.endMs) return;
    this.scheduled++;
    this.errors.INCOMPLETE = (this.errors.INCOMPLETE ?? 0) + 1;
  }

  get errorCount(): number {
    return Object.values(this.errors).reduce((a, b) => a + b, 0);
  }

  /** Calls per second scheduled in the window. */
  get offeredRate(): number {
    return this.scheduled / this.windowS;
  }

  /** OK completions per second inside the window. */
  get achievedRate(): number {
    return this.okInWindow / this.windowS;
  }

  summary(): { corrected: LatencySummary; uncorrected: LatencySummary; sendLag: LatencySummary } {
    return { corrected: summarize(this.corrected), uncorrected: summarize(this.uncorrected), sendLag: summarize(this.sendLag) };
  }

  /** A plain-JSON copy (histograms compressed) to send between processes. */
  snapshot(): RecorderSnapshot {
    return {
      warmupMs: this.warmupMs,
      endMs: this.endMs,
      scheduled: this.scheduled,
      ok: this.ok,
      errors: { ...this.errors },
      completedInWindow: this.completedInWindow,
      okInWindow: this.okInWindow,
      corrected: hdr.encodeIntoCompressedBase64(this.corrected),
      uncorrected: hdr.encodeIntoCompressedBase64(this.uncorrected),
      sendLag: hdr.encodeIntoCompressedBase64(this.sendLag),
    };
  }

  /** Adds another recorder's snapshot (same window) into this one. */
  merge(s: RecorderSnapshot): void {
    if (s.warmupMs !== this.warmupMs || s.endMs !== this.endMs) throw new Error('cannot merge recorders with different windows');
    this.scheduled += s.scheduled;
    this.ok += s.ok;
    for (const [k, v] of Object.entries(s.errors)) this.errors[k] = (this.errors[k] ?? 0) + v;
    this.completedInWindow += s.completedInWindow;
    this.okInWindow += s.okInWindow;
    this.corrected.add(hdr.decodeFromCompressedBase64(s.corrected, 64, false));
    this.uncorrected.add(hdr.decodeFromCompressedBase64(s.uncorrected, 64, false));
    this.sendLag.add(hdr.decodeFromCompressedBase64(s.sendLag, 64, false));
  }
}

/** CPU time (user + system, µs) of a process from the text of /proc/PID/stat. */
export function parseProcStatCpuUs(stat: string, clockTicksPerS: number): number {
  // The command name (field 2) is in parentheses and may hold spaces.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unexpected /proc/PID/stat format');
  return ((utime + stime) * 1e6) / clockTicksPerS;
}
