// Admission to the cascade: at most maxActive requests hold a slot, the
// others wait. A request is admitted only if it can still start in time: by
// its deadline minus the predicted cascade time, or, without a deadline,
// within maxQueueWaitMs of its arrival. The wait is predicted from the
// measured departure rate (Little's law: requests ahead x the recent interval
// between slot releases while requests wait), so under a burst the queue
// holds as much work as the callers' deadlines allow and the excess is
// refused at once, before any work. Waiting requests that can no longer start
// in time (the prediction was optimistic, or the caller went away) are
// refused when a slot frees instead of being run too late.
// Order: arrival order; once the oldest waiting request has waited longer
// than maxQueueWaitMs (a standing queue, not a passing burst) the newest is
// served first, so the ones served still have most of their time left, and
// each new arrival takes the place of the oldest, which is refused then
// rather than when its deadline is near (adaptive LIFO).

/** Rank calls admitted at once by default (running or waiting for a slot). */
export const DEFAULT_MAX_CONCURRENT_RANKS = 4096;

/** A call refused because the calls in progress are at their limit (a memory bound): RESOURCE_EXHAUSTED. */
export class ConcurrencyLimitError extends Error {
  readonly retryAfterMs = 20;

  constructor(
    readonly inProgress: number,
    readonly limit: number,
  ) {
    const stack = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // an expected outcome under overload: no stack trace
    super(`${inProgress} Rank calls in progress (limit ${limit}); retry later`);
    Error.stackTraceLimit = stack;
    this.name = 'ConcurrencyLimitError';
  }
}

/**
 * The first gate: Rank calls in progress (running or waiting for a cascade
 * slot), across the engines a reload swaps in, up to a limit. It bounds
 * memory; the slot queue below bounds time.
 */
export class CallLimit {
  private active = 0;

  constructor(readonly limit: number = DEFAULT_MAX_CONCURRENT_RANKS) {}

  /** Counts a call in, or throws ConcurrencyLimitError. */
  enter(): void {
    if (this.active >= this.limit) throw new ConcurrencyLimitError(this.active, this.limit);
    this.active++;
  }

  leave(): void {
    this.active--;
  }

  get inProgress(): number {
    return this.active;
  }
}

/** A request whose deadline passed, or is too close to serve it: DEADLINE_EXCEEDED. */
export class DeadlineError extends Error {}

/** A request refused by admission: no slot in time. No work was done for it. */
export class QueueWaitError extends Error {
  constructor(
    readonly waitedMs: number,
    /** Set when refused on arrival: the wait that was predicted. */
    readonly expectedMs?: number,
    /** Suggested back-off: when the queue ahead is predicted to have drained, ms. */
    readonly retryAfterMs = 50,
  ) {
    // An expected outcome under overload: no stack trace (capturing one costs
    // more than the rest of the refusal).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(
      expectedMs === undefined
        ? `waited ${Math.round(waitedMs)} ms for a cascade slot and can no longer be served in time (the engine is overloaded)`
        : `the expected wait for a cascade slot is ${Math.round(expectedMs)} ms, too long for the call's deadline or the queue wait limit (the engine is overloaded)`,
    );
    Error.stackTraceLimit = limit;
    this.name = 'QueueWaitError';
  }
}

export interface AdmissionOptions {
  /** Requests holding a slot at once. */
  maxActive: number;
  /**
   * The longest wait of a request without a deadline; also the age of the
   * oldest waiting request past which the newest is served first. Infinity:
   * no bound, arrival order always.
   */
  maxQueueWaitMs: number;
  /** Milliseconds clock (tests pass a fake one). */
  now?: () => number;
}

interface Waiter {
  arrival: number;
  /** The latest time the request may get its slot and still be served in time. */
  latestStart: number;
  signal?: AbortSignal;
  resolve(): void;
  reject(err: unknown): void;
}

/** Bounds of the clipped moving averages: a sample moves them by 10%, and up by at most 25% of the current value. */
const ALPHA = 0.1;
const MAX_STEP_UP = 1.25;
const RETRY_MIN_MS = 10;
const RETRY_MAX_MS = 10_000;
/** Longest time between scans of the queue for requests whose caller went away. */
const SCAN_MS = 20;

/** Exponentially weighted mean whose rises are clipped, so a short stall (a burst of refusals on the event loop) inflates it only a little. */
function update(mean: number, sample: number): number {
  if (mean === 0) return sample;
  return (1 - ALPHA) * mean + ALPHA * Math.min(sample, MAX_STEP_UP * mean);
}

export class SlotQueue {
  private active = 0;
  /** Waiting requests in arrival order (served from either end, refused from anywhere). */
  private waiting: Waiter[] = [];
  /** Recent time a request holds a slot, ms (0 until measured). */
  private holdMs = 0;
  /** Recent interval between slot releases while requests were waiting, ms (0 until measured). */
  private departMs = 0;
  private lastRelease = 0;
  /** When the queue is next scanned for requests to refuse: the earliest latest start, at most SCAN_MS ahead. */
  private nextScan = Infinity;
  private readonly now: () => number;
  /** Requests refused (on arrival or while waiting). */
  shed = 0;
  /** The part of `shed` refused on arrival, from the predicted wait. */
  shedOnArrival = 0;

  constructor(private readonly opts: AdmissionOptions) {
    this.now = opts.now ?? Date.now;
  }

  get maxActive(): number {
    return this.opts.maxActive;
  }
  get activeCount(): number {
    return this.active;
  }
  get waitingCount(): number {
    return this.waiting.length;
  }
  /** Predicted time a request holds its slot, ms (0 until measured). */
  get predictedHoldMs(): number {
    return this.holdMs;
  }

  /** Predicted interval between departures while requests wait, ms. */
  private interval(): number {
    return this.departMs > 0 ? this.departMs : this.holdMs / this.opts.maxActive;
  }

  /** The wait a request arriving now is predicted to have, ms (0 when a slot is free). */
  expectedWaitMs(): number {
    if (this.active < this.opts.maxActive) return 0;
    return (this.waiting.length + 1) * this.interval();
  }

  /** The latest start of a request arriving now with this deadline (ms since the epoch, Infinity: none). */
  private latestStart(arrival: number, deadline: number): number {
    return Number.isFinite(deadline) ? deadline - this.holdMs : arrival + this.opts.maxQueueWaitMs;
  }

  /**
   * Why a request arriving now with this deadline would be refused at once,
   * or null if it would be admitted (a slot now, or a wait it can afford).
   * A deadline closer than one cascade takes, when the request would have to
   * wait, is the caller's: DeadlineError (the cascade degrades to fit when a
   * slot is free). Costs no allocation when admitted.
   */
  refusal(deadline: number): QueueWaitError | DeadlineError | null {
    if (this.active < this.opts.maxActive) return null;
    const now = this.now();
    const wait = this.expectedWaitMs();
    const latestStart = this.latestStart(now, deadline);
    if (now + wait <= latestStart || this.displaceable(now, latestStart)) return null;
    if (deadline - now < this.holdMs) {
      return new DeadlineError(`the deadline is ${Math.max(0, Math.round(deadline - now))} ms away, less than a cascade takes (${Math.round(this.holdMs)} ms), and no cascade slot is free`);
    }
    return new QueueWaitError(0, wait, Math.round(Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, wait))));
  }

  /**
   * Under a standing queue (newest first), whether a request with this latest
   * start takes the place of the oldest waiting one: served first, it has the
   * better chance, and the oldest, which newer arrivals keep passing, hears at
   * once that it will not be served instead of waiting until it can no longer
   * start in time. Under sustained overload this keeps the oldest waiting
   * request's age near maxQueueWaitMs (as CoDel keeps the queue delay near
   * its target) while the queue still holds the work of a passing burst.
   */
  private displaceable(now: number, latestStart: number): boolean {
    const q = this.waiting;
    return q.length > 0 && now - q[0].arrival > this.opts.maxQueueWaitMs && q[0].latestStart < latestStart;
  }

  /** refusal(), counted as a request shed on arrival when it refuses. */
  screen(deadline: number): QueueWaitError | DeadlineError | null {
    const refused = this.refusal(deadline);
    if (refused instanceof QueueWaitError) {
      this.shed++;
      this.shedOnArrival++;
    }
    return refused;
  }

  /**
   * Resolves when the request holds a slot; rejects with QueueWaitError when
   * it is refused (at once, or when it can no longer start in time), or with
   * the signal's reason when the caller went away while it waited.
   * Every resolved acquire() must be followed by one release().
   */
  acquire(deadline: number, signal?: AbortSignal): Promise<void> {
    if (this.active < this.opts.maxActive) {
      this.active++;
      return Promise.resolve();
    }
    const refused = this.screen(deadline);
    if (refused) return Promise.reject(refused);
    const arrival = this.now();
    const latestStart = this.latestStart(arrival, deadline);
    if (this.displaceable(arrival, latestStart)) {
      // Admitted in place of the oldest waiting request.
      const oldest = this.waiting.shift()!;
      this.shed++;
      oldest.reject(new QueueWaitError(arrival - oldest.arrival, undefined, Math.round(Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.expectedWaitMs())))));
    }
    if (this.waiting.length === 0) this.nextScan = Math.min(latestStart, arrival + SCAN_MS);
    else if (latestStart < this.nextScan) this.nextScan = latestStart;
    return new Promise<void>((resolve, reject) => this.waiting.push({ arrival, latestStart, signal, resolve, reject }));
  }

  /** Gives the slot back after holding it `heldMs`: to the next waiting request that can still be served in time, or frees it. */
  release(heldMs: number): void {
    const now = this.now();
    this.holdMs = update(this.holdMs, heldMs);
    if (this.waiting.length > 0) {
      if (this.lastRelease > 0) this.departMs = update(this.departMs, Math.max(0, now - this.lastRelease));
      this.lastRelease = now;
    } else this.lastRelease = 0;
    if (now >= this.nextScan) this.scan(now);
    const w = this.next(now);
    if (w) w.resolve();
    else this.active--;
  }

  /** The waiting request to serve next (the oldest, or the newest under a standing queue), passing over those that cannot be served. */
  private next(now: number): Waiter | undefined {
    const q = this.waiting;
    while (q.length > 0) {
      const standing = now - q[0].arrival > this.opts.maxQueueWaitMs;
      const w = standing ? q.pop()! : q.shift()!;
      if (!this.refuseIfHopeless(w, now)) return w;
    }
    return undefined;
  }

  /** Refuses `w` if it can no longer start in time, drops it if its caller went away; true if so. */
  private refuseIfHopeless(w: Waiter, now: number): boolean {
    if (w.signal?.aborted) {
      w.reject(w.signal.reason ?? new Error('cancelled'));
      return true;
    }
    if (w.latestStart >= now) return false;
    this.shed++;
    w.reject(new QueueWaitError(now - w.arrival, undefined, Math.round(Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.waiting.length * this.interval())))));
    return true;
  }

  /** Refuses the waiting requests that can no longer start in time and drops the cancelled ones, so they hear at once. */
  private scan(now: number): void {
    const keep: Waiter[] = [];
    let next = now + SCAN_MS;
    for (const w of this.waiting) {
      if (this.refuseIfHopeless(w, now)) continue;
      keep.push(w);
      if (w.latestStart < next) next = w.latestStart;
    }
    this.waiting = keep;
    this.nextScan = next;
  }
}
