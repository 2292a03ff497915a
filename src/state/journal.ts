// A durable journal of typed records, one JSON line each: the machinery under
// the event log (RecordEvents) and the catalog log (UpsertItems/DeleteItems).
//
// Layout: a directory of segment files `<prefix>-<12-digit sequence>.jsonl`.
// The newest segment is appended to; once it holds `segmentRecords` records a
// new one is started, and whole segments older than the newest `maxRecords`
// records are deleted. rewrite() replaces every segment by one holding the
// records it is given (compaction).
//
// Group commit: append() queues its lines and returns a promise; a single
// writer loop writes everything queued since the last write in one write()
// and, with sync 'data', one fdatasync(), then resolves all the promises of
// that batch. So the cost of a sync is shared by all calls that arrived while
// the previous one ran, and a promise resolves only after its lines are on
// disk (sync 'data') or in the kernel's page cache (sync 'none': survives a
// crash of this process, not of the machine). Appends and rewrites are
// carried out in the order they were called.
//
// Recovery (open): segments are read in order; a line that does not parse is
// skipped and counted. A torn last line (a write cut short by a crash) is cut
// off the newest segment before appending resumes. A rewrite is written to a
// temporary file and renamed into place, so a crash during one leaves either
// the old segments or the new one (plus old ones, which the new one repeats:
// the reader of a rewritable journal must treat a record read twice in order
// as harmless); leftover temporary files are deleted.
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

export type JournalSync = 'data' | 'none';

/** How records are written and read back: one line each (without the newline). */
export interface JournalCodec<T> {
  format(record: T): string;
  /** null for a line that is not a well-formed record (so corruption can never fail a replay). */
  parse(line: string): T | null;
}

export interface JournalOptions<T> {
  dir: string;
  /** Segment file name prefix: `<prefix>-000000000001.jsonl`. */
  prefix: string;
  /** What the journal is called in error messages ("event log"). */
  label: string;
  codec: JournalCodec<T>;
  /** Records kept: whole segments older than the newest maxRecords are deleted (Infinity: none). */
  maxRecords: number;
  /** Records per segment file (Infinity: one segment until a rewrite). */
  segmentRecords: number;
  /** 'data': fdatasync before an append resolves (default); 'none': write() only. */
  sync?: JournalSync;
  /** Records queued but not yet written; an append past this throws JournalFullError. Default 100000. */
  maxPendingRecords?: number;
  /** Called with the duration of each write (+ sync) and its record count. */
  onWrite?: (seconds: number, records: number) => void;
  /** Called when a rotation or a segment deletion fails (appends go on in the current segment). */
  onError?: (err: Error) => void;
  /**
   * false: open() reads back nothing (a write-only log, read by others): the
   * older segments are left unread and only the newest is checked (torn last
   * line) and counted. Needs maxRecords Infinity. Default true.
   */
  readBack?: boolean;
}

export interface JournalRecovery<T> {
  /** The most recent records (at most maxRecords), oldest first. */
  records: T[];
  /** Lines that did not parse (corruption), skipped. */
  skippedLines: number;
  /** Bytes of a torn last line cut off the newest segment. */
  truncatedBytes: number;
  segments: number;
}

export class JournalFullError extends Error {
  constructor(label: string, pending: number, max: number) {
    super(`the ${label} has ${pending} records waiting to be written (limit ${max}); retry later`);
    this.name = 'JournalFullError';
  }
}

export class JournalClosedError extends Error {
  constructor(label: string) {
    super(`the ${label} is closed`);
    this.name = 'JournalClosedError';
  }
}

interface Segment {
  seq: number;
  records: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** One queued operation: lines to append, or the whole content of a rewrite. */
interface Op {
  rewrite: boolean;
  text: string;
  records: number;
  waiter: Waiter;
}

export class Journal<T> {
  private fh: FileHandle | null = null;
  private segments: Segment[] = [];
  private total = 0;
  private queue: Op[] = [];
  private pending = 0;
  private writing: Promise<void> | null = null;
  private closed = false;
  /** A write failed part-way: the file may end in a partial line. */
  private torn = false;
  private readonly segmentPattern: RegExp;
  private readonly maxPending: number;
  private readonly sync: JournalSync;

  /** Writes (each one write() and, with sync 'data', one fdatasync()) since open. */
  writes = 0;
  /** Records made durable by appends since open. */
  appended = 0;

  private constructor(private readonly opts: JournalOptions<T>) {
    if (!(opts.maxRecords >= 1)) throw new RangeError(`maxRecords must be at least 1, got ${opts.maxRecords}`);
    if (!(opts.segmentRecords >= 1)) throw new RangeError(`segmentRecords must be at least 1, got ${opts.segmentRecords}`);
    if (opts.readBack === false && opts.maxRecords !== Infinity) throw new RangeError('a journal that reads nothing back keeps every segment (maxRecords Infinity)');
    if (!/^[a-z][a-z0-9-]*$/.test(opts.prefix)) throw new RangeError(`prefix must be lower-case letters, digits and dashes, got "${opts.prefix}"`);
    this.segmentPattern = new RegExp(`^${opts.prefix}-(\\d{12})\\.jsonl$`);
    this.maxPending = opts.maxPendingRecords ?? 100_000;
    this.sync = opts.sync ?? 'data';
  }

  /** Opens (creating if needed) the journal in `opts.dir` and reads back what it holds. */
  static async open<T>(opts: JournalOptions<T>): Promise<{ journal: Journal<T>; recovered: JournalRecovery<T> }> {
    const journal = new Journal(opts);
    const recovered = await journal.recover();
    return { journal, recovered };
  }

  /** Records in the retained segments (durable ones only). */
  get size(): number {
    return this.total;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Records queued or being written by appends. */
  get pendingRecords(): number {
    return this.pending;
  }

  /**
   * Queues `records` and resolves once they are written (and synced, with
   * sync 'data'). Rejects at once with JournalFullError when too many records
   * are waiting, JournalClosedError after close(); rejects with the I/O error
   * if the write fails (then nothing of the batch counts as logged).
   */
  append(records: readonly T[]): Promise<void> {
    if (records.length === 0 && !this.closed) return Promise.resolve();
    return this.enqueue(false, records);
  }

  /**
   * Replaces the journal's content with `records` (compaction), after the
   * appends queued before it and before those queued after it. The records
   * are formatted now, so the caller may change its own copies at once.
   */
  rewrite(records: readonly T[]): Promise<void> {
    return this.enqueue(true, records);
  }

  private enqueue(rewrite: boolean, records: readonly T[]): Promise<void> {
    const { label, codec } = this.opts;
    if (this.closed) return Promise.reject(new JournalClosedError(label));
    if (!rewrite && this.pending + records.length > this.maxPending) return Promise.reject(new JournalFullError(label, this.pending, this.maxPending));
    let text = '';
    for (const r of records) text += codec.format(r) + '\n';
    if (!rewrite) this.pending += records.length;
    const done = new Promise<void>((resolve, reject) => this.queue.push({ rewrite, text, records: records.length, waiter: { resolve, reject } }));
    this.kick();
    return done;
  }

  /** Starts the writer loop unless it runs; restarts it for operations queued as it finished. */
  private kick(): void {
    if (this.writing) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
      if (this.queue.length > 0) this.kick();
    });
  }

  /** Waits for queued operations, then closes the file. Later calls reject. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing) await this.writing;
    await this.fh?.close();
    this.fh = null;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.queue[0].rewrite) {
        const op = this.queue.shift()!;
        try {
          await this.replaceAll(op.text, op.records);
          op.waiter.resolve();
        } catch (err) {
          op.waiter.reject(err as Error);
        }
        continue;
      }
      // Group commit: every append queued up to the next rewrite, in one write.
      let k = 0;
      while (k < this.queue.length && !this.queue[k].rewrite) k++;
      const batch = this.queue.splice(0, k);
      let n = 0;
      for (const op of batch) n += op.records;
      const t0 = process.hrtime.bigint();
      try {
        const text = (this.torn ? '\n' : '') + batch.map((op) => op.text).join('');
        await this.writeAll(this.fh!, Buffer.from(text, 'utf8'));
        this.torn = false;
      } catch (err) {
        this.torn = true;
        this.pending -= n;
        for (const op of batch) op.waiter.reject(err as Error);
        continue;
      }
      this.pending -= n;
      this.writes++;
      this.appended += n;
      this.total += n;
      this.segments[this.segments.length - 1].records += n;
      this.opts.onWrite?.(Number(process.hrtime.bigint() - t0) / 1e9, n);
      for (const op of batch) op.waiter.resolve();
      if (this.segments[this.segments.length - 1].records >= this.opts.segmentRecords) {
        try {
          await this.rotate();
        } catch (err) {
          this.opts.onError?.(err as Error);
        }
      }
    }
  }

  /** Writes all of `buf` at the file's position, then syncs (sync 'data'). */
  private async writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
    for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
    if (this.sync === 'data') await fh.datasync();
  }

  private file(seq: number): string {
    return path.join(this.opts.dir, `${this.opts.prefix}-${String(seq).padStart(12, '0')}.jsonl`);
  }

  /** Starts a new segment and deletes the segments no longer needed. */
  private async rotate(): Promise<void> {
    const seq = this.segments[this.segments.length - 1].seq + 1;
    const fh = await fs.open(this.file(seq), 'a');
    await this.syncDir();
    await this.fh?.close();
    this.fh = fh;
    this.segments.push({ seq, records: 0 });
    while (this.segments.length > 1 && this.total - this.segments[0].records >= this.opts.maxRecords) {
      const old = this.segments[0];
      await fs.unlink(this.file(old.seq));
      this.segments.shift();
      this.total -= old.records;
    }
  }

  /**
   * Writes `text` as the next segment through a temporary file renamed into
   * place, makes it the one appended to, then deletes the older segments.
   */
  private async replaceAll(text: string, records: number): Promise<void> {
    const seq = this.segments[this.segments.length - 1].seq + 1;
    const tmp = `${this.file(seq)}.tmp`;
    const fh = await fs.open(tmp, 'w');
    try {
      await this.writeAll(fh, Buffer.from(text, 'utf8'));
      await fs.rename(tmp, this.file(seq));
      await this.syncDir();
    } catch (err) {
      await fh.close();
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    await this.fh?.close();
    this.fh = fh;
    this.torn = false;
    const old = this.segments;
    this.segments = [{ seq, records }];
    this.total = records;
    for (const s of old) {
      try {
        await fs.unlink(this.file(s.seq));
      } catch (err) {
        this.opts.onError?.(err as Error);
      }
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

  private async recover(): Promise<JournalRecovery<T>> {
    const { dir, maxRecords, codec } = this.opts;
    await fs.mkdir(dir, { recursive: true });
    const names = await fs.readdir(dir);
    for (const f of names) {
      if (f.startsWith(`${this.opts.prefix}-`) && f.endsWith('.jsonl.tmp')) await fs.rm(path.join(dir, f), { force: true });
    }
    const seqs = names
      .map((f) => this.segmentPattern.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const records: T[] = [];
    let skippedLines = 0;
    let truncatedBytes = 0;
    for (let i = 0; i < seqs.length; i++) {
      const file = this.file(seqs[i]);
      const last = i === seqs.length - 1;
      if (this.opts.readBack === false && !last) {
        this.segments.push({ seq: seqs[i], records: 0 });
        continue;
      }
      const text = await fs.readFile(file, 'utf8');
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
          const r = codec.parse(text.slice(start, nl));
          if (r !== null) {
            if (this.opts.readBack !== false) records.push(r);
            count++;
          } else skippedLines++;
        }
        start = nl + 1;
      }
      this.segments.push({ seq: seqs[i], records: count });
      this.total += count;
    }
    if (this.segments.length === 0) {
      this.segments.push({ seq: 1, records: 0 });
      this.fh = await fs.open(this.file(1), 'a');
      await this.syncDir();
    } else {
      this.fh = await fs.open(this.file(this.segments[this.segments.length - 1].seq), 'a');
      if (this.segments[this.segments.length - 1].records >= this.opts.segmentRecords) await this.rotate();
    }
    const recent = records.length > maxRecords ? records.slice(records.length - maxRecords) : records;
    return { records: recent, skippedLines, truncatedBytes, segments: this.segments.length };
  }
}
