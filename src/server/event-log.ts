// Durable log of recorded user events: what makes an acknowledged
// RecordEvents call survive a crash or restart of the server.
//
// Layout: a directory of segment files `events-<12-digit sequence>.jsonl`,
// one event per line as a JSON array [userId, itemId, actionCode, tsMs]. The
// newest segment is appended to; once it holds `segmentEvents` events a new
// one is started, and whole segments older than the newest `maxEvents`
// events are deleted (the user state only ever needs the recent past: the
// action sequence, a purchase window, a seen window).
//
// Group commit: append() queues its lines and returns a promise; a single
// writer loop writes everything queued since the last write in one write()
// and, with sync 'data', one fdatasync(), then resolves all the promises of
// that batch. So the cost of a sync is shared by all calls that arrived while
// the previous one ran, and a promise resolves only after its lines are on
// disk (sync 'data') or in the kernel's page cache (sync 'none': survives a
// crash of this process, not of the machine).
//
// Recovery (open): segments are read in order; a line that does not parse is
// skipped and counted. A torn last line (a write cut short by a crash) is cut
// off the newest segment before appending resumes.
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

import { ACTION_NAMES, ActionCode } from '../engine/types';

/** One recorded event, by item id (rows change between bundles; ids do not). */
export interface LoggedEvent {
  userId: string;
  itemId: string;
  action: ActionCode;
  ts: number;
}

export type EventLogSync = 'data' | 'none';

export interface EventLogOptions {
  dir: string;
  /** Events kept: whole segments older than the newest maxEvents are deleted. */
  maxEvents: number;
  /** Events per segment file; default max(1000, ceil(maxEvents / 8)). */
  segmentEvents?: number;
  /** 'data': fdatasync before an append resolves (default); 'none': write() only. */
  sync?: EventLogSync;
  /** Events queued but not yet written; an append past this throws EventLogFullError. Default 100000. */
  maxPendingEvents?: number;
  /** Called with the duration of each write (+ sync) and its event count. */
  onWrite?: (seconds: number, events: number) => void;
  /** Called when a rotation or a segment deletion fails (appends go on in the current segment). */
  onError?: (err: Error) => void;
}

export interface EventLogRecovery {
  /** The most recent events in the log (at most maxEvents), oldest first. */
  events: LoggedEvent[];
  /** Lines that did not parse (corruption), skipped. */
  skippedLines: number;
  /** Bytes of a torn last line cut off the newest segment. */
  truncatedBytes: number;
  segments: number;
}

export class EventLogFullError extends Error {
  constructor(pending: number, max: number) {
    super(`the event log has ${pending} events waiting to be written (limit ${max}); retry later`);
    this.name = 'EventLogFullError';
  }
}

export class EventLogClosedError extends Error {
  constructor() {
    super('the event log is closed');
    this.name = 'EventLogClosedError';
  }
}

const SEGMENT = /^events-(\d{12})\.jsonl$/;
const segmentName = (seq: number): string => `events-${String(seq).padStart(12, '0')}.jsonl`;

interface Segment {
  seq: number;
  events: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Parses one log line; null if it is not a well-formed event (so a corrupt line can never fail a batch on replay). */
export function parseLine(line: string): LoggedEvent | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length !== 4) return null;
  const [userId, itemId, action, ts] = v as unknown[];
  if (typeof userId !== 'string' || userId.length === 0 || typeof itemId !== 'string' || itemId.length === 0) return null;
  if (typeof action !== 'number' || ACTION_NAMES[action] === undefined) return null;
  if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) return null;
  return { userId, itemId, action: action as ActionCode, ts };
}

export function formatLine(e: LoggedEvent): string {
  return JSON.stringify([e.userId, e.itemId, e.action, e.ts]) + '\n';
}

export class EventLog {
  private fh: FileHandle | null = null;
  private readonly segments: Segment[] = [];
  private total = 0;
  private queue: string[] = [];
  private waiters: Waiter[] = [];
  private queuedEvents = 0;
  private pending = 0;
  private writing: Promise<void> | null = null;
  private closed = false;
  /** A write failed part-way: the file may end in a partial line. */
  private torn = false;
  private readonly segmentEvents: number;
  private readonly maxPending: number;
  private readonly sync: EventLogSync;

  /** Writes (each one write() and, with sync 'data', one fdatasync()) since open. */
  writes = 0;
  /** Events made durable since open. */
  appended = 0;

  private constructor(private readonly opts: EventLogOptions) {
    if (!Number.isInteger(opts.maxEvents) || opts.maxEvents < 1) throw new RangeError(`maxEvents must be a positive integer, got ${opts.maxEvents}`);
    this.segmentEvents = opts.segmentEvents ?? Math.max(1000, Math.ceil(opts.maxEvents / 8));
    if (!Number.isInteger(this.segmentEvents) || this.segmentEvents < 1) throw new RangeError(`segmentEvents must be a positive integer, got ${this.segmentEvents}`);
    this.maxPending = opts.maxPendingEvents ?? 100_000;
    this.sync = opts.sync ?? 'data';
  }

  /** Opens (creating if needed) the log in `opts.dir` and reads back what it holds. */
  static async open(opts: EventLogOptions): Promise<{ log: EventLog; recovered: EventLogRecovery }> {
    const log = new EventLog(opts);
    const recovered = await log.recover();
    return { log, recovered };
  }

  /** Events in the log's retained segments (durable ones only). */
  get size(): number {
    return this.total;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Events queued or being written. */
  get pendingEvents(): number {
    return this.pending;
  }

  /**
   * Queues `events` and resolves once they are written (and synced, with sync
   * 'data'). Throws EventLogFullError at once when too many events are
   * waiting, EventLogClosedError after close(); rejects with the I/O error if
   * the write fails (then nothing of the batch counts as logged).
   */
  append(events: readonly LoggedEvent[]): Promise<void> {
    if (this.closed) return Promise.reject(new EventLogClosedError());
    if (events.length === 0) return Promise.resolve();
    if (this.pending + events.length > this.maxPending) return Promise.reject(new EventLogFullError(this.pending, this.maxPending));
    let text = '';
    for (const e of events) text += formatLine(e);
    this.queue.push(text);
    this.queuedEvents += events.length;
    this.pending += events.length;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.kick();
    return done;
  }

  /** Starts the writer loop unless it runs; restarts it for lines queued as it finished. */
  private kick(): void {
    if (this.writing) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
      if (this.queue.length > 0) this.kick();
    });
  }

  /** Waits for queued events, then closes the file. Later appends reject. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing) await this.writing;
    await this.fh?.close();
    this.fh = null;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const text = (this.torn ? '\n' : '') + this.queue.join('');
      const waiters = this.waiters;
      const n = this.queuedEvents;
      this.queue = [];
      this.waiters = [];
      this.queuedEvents = 0;
      const t0 = process.hrtime.bigint();
      try {
        const fh = this.fh!;
        const buf = Buffer.from(text, 'utf8');
        for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
        if (this.sync === 'data') await fh.datasync();
        this.torn = false;
      } catch (err) {
        this.torn = true;
        this.pending -= n;
        for (const w of waiters) w.reject(err as Error);
        continue;
      }
      this.pending -= n;
      this.writes++;
      this.appended += n;
      this.total += n;
      this.segments[this.segments.length - 1].events += n;
      this.opts.onWrite?.(Number(process.hrtime.bigint() - t0) / 1e9, n);
      for (const w of waiters) w.resolve();
      if (this.segments[this.segments.length - 1].events >= this.segmentEvents) {
        try {
          await this.rotate();
        } catch (err) {
          this.opts.onError?.(err as Error);
        }
      }
    }
  }

  /** Starts a new segment and deletes the segments no longer needed. */
  private async rotate(): Promise<void> {
    const seq = this.segments[this.segments.length - 1].seq + 1;
    const fh = await fs.open(path.join(this.opts.dir, segmentName(seq)), 'a');
    await this.syncDir();
    await this.fh?.close();
    this.fh = fh;
    this.segments.push({ seq, events: 0 });
    while (this.segments.length > 1 && this.total - this.segments[0].events >= this.opts.maxEvents) {
      const old = this.segments[0];
      await fs.unlink(path.join(this.opts.dir, segmentName(old.seq)));
      this.segments.shift();
      this.total -= old.events;
    }
  }

  private async syncDir(): Promise<void> {
    if (this.sync !== 'data') return;
    const d = await fs.open(this.opts.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  private async recover(): Promise<EventLogRecovery> {
    const { dir, maxEvents } = this.opts;
    await fs.mkdir(dir, { recursive: true });
    const seqs = (await fs.readdir(dir))
      .map((f) => SEGMENT.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const events: LoggedEvent[] = [];
    let skippedLines = 0;
    let truncatedBytes = 0;
    for (let i = 0; i < seqs.length; i++) {
      const file = path.join(dir, segmentName(seqs[i]));
      const text = await fs.readFile(file, 'utf8');
      const last = i === seqs.length - 1;
      let end = text.length;
      if (last && !text.endsWith('\n') && text.length > 0) {
        // A torn last line: everything after the last newline.
        const nl = text.lastIndexOf('\n');
        end = nl + 1;
        truncatedBytes = Buffer.byteLength(text.slice(end), 'utf8');
        await fs.truncate(file, Buffer.byteLength(text.slice(0, end), 'utf8'));
      }
      let count = 0;
      let start = 0;
      while (start < end) {
        let nl = text.indexOf('\n', start);
        if (nl < 0 || nl > end) nl = end;
        if (nl > start) {
          const e = parseLine(text.slice(start, nl));
          if (e) {
            events.push(e);
            count++;
          } else skippedLines++;
        }
        start = nl + 1;
      }
      this.segments.push({ seq: seqs[i], events: count });
      this.total += count;
    }
    if (this.segments.length === 0) {
      this.segments.push({ seq: 1, events: 0 });
      this.fh = await fs.open(path.join(dir, segmentName(1)), 'a');
      await this.syncDir();
    } else {
      this.fh = await fs.open(path.join(dir, segmentName(this.segments[this.segments.length - 1].seq)), 'a');
      if (this.segments[this.segments.length - 1].events >= this.segmentEvents) await this.rotate();
    }
    const recent = events.length > maxEvents ? events.slice(events.length - maxEvents) : events;
    return { events: recent, skippedLines, truncatedBytes, segments: this.segments.length };
  }
}
