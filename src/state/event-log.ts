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
// The segments, the group commit (an append resolves once its lines are
// written and, with sync 'data', synced; concurrent appends share one write)
// and the recovery (torn last line cut, corrupt lines skipped) are the
// generic Journal's (journal.ts); this file holds the event's line format and
// the event log's options.
import { ACTION_NAMES, ActionCode } from '../models/schema';
import { Journal, JournalCodec, JournalSync } from './journal';

export { JournalClosedError as EventLogClosedError, JournalFullError as EventLogFullError } from './journal';

/** One recorded event, by item id (rows change between bundles; ids do not). */
export interface LoggedEvent {
  userId: string;
  itemId: string;
  action: ActionCode;
  ts: number;
}

export type EventLogSync = JournalSync;

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

const CODEC: JournalCodec<LoggedEvent> = { format: (e) => formatLine(e).slice(0, -1), parse: parseLine };

/** The event log: segments `events-<12-digit sequence>.jsonl` in its directory. */
export class EventLog {
  private constructor(private readonly journal: Journal<LoggedEvent>) {}

  /** Opens (creating if needed) the log in `opts.dir` and reads back what it holds. */
  static async open(opts: EventLogOptions): Promise<{ log: EventLog; recovered: EventLogRecovery }> {
    if (!Number.isInteger(opts.maxEvents) || opts.maxEvents < 1) throw new RangeError(`maxEvents must be a positive integer, got ${opts.maxEvents}`);
    const segmentRecords = opts.segmentEvents ?? Math.max(1000, Math.ceil(opts.maxEvents / 8));
    if (!Number.isInteger(segmentRecords) || segmentRecords < 1) throw new RangeError(`segmentEvents must be a positive integer, got ${segmentRecords}`);
    const { journal, recovered } = await Journal.open({
      dir: opts.dir,
      prefix: 'events',
      label: 'event log',
      codec: CODEC,
      maxRecords: opts.maxEvents,
      segmentRecords,
      sync: opts.sync,
      maxPendingRecords: opts.maxPendingEvents,
      onWrite: opts.onWrite,
      onError: opts.onError,
    });
    const { records, skippedLines, truncatedBytes, segments } = recovered;
    return { log: new EventLog(journal), recovered: { events: records, skippedLines, truncatedBytes, segments } };
  }

  /** Events in the log's retained segments (durable ones only). */
  get size(): number {
    return this.journal.size;
  }

  get segmentCount(): number {
    return this.journal.segmentCount;
  }

  /** Events queued or being written. */
  get pendingEvents(): number {
    return this.journal.pendingRecords;
  }

  /** Writes (each one write() and, with sync 'data', one fdatasync()) since open. */
  get writes(): number {
    return this.journal.writes;
  }

  /** Events made durable since open. */
  get appended(): number {
    return this.journal.appended;
  }

  /**
   * Queues `events` and resolves once they are written (and synced, with sync
   * 'data'). Throws EventLogFullError at once when too many events are
   * waiting, EventLogClosedError after close(); rejects with the I/O error if
   * the write fails (then nothing of the batch counts as logged).
   */
  append(events: readonly LoggedEvent[]): Promise<void> {
    return this.journal.append(events);
  }

  /** Waits for queued events, then closes the file. Later appends reject. */
  close(): Promise<void> {
    return this.journal.close();
  }
}
