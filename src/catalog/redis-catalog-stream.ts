// The catalog changes of every replica, in one Redis Stream: each
// UpsertItems or DeleteItems call is one entry, and every replica applies
// every entry in stream order (catalog-changes.ts keeps them for reloads).
//
// Keys (one hash tag, so both live in one Cluster slot):
//   catalog:{changes}:stream  the entries; fields o (the replica that made
//                             the call), n (its call number there) and c
//                             (the call's changes, one catalog-log line each)
//   catalog:{changes}:head    the id of the last entry, set in the same Lua
//                             script as the XADD
// A replica reads the head through the client-side cache (RESP3 tracking):
// it costs no round trip until some replica appends, and Redis invalidates
// it then. Comparing it with the last entry applied here tells a Rank
// whether a change acknowledged anywhere has not reached this replica yet.
// The entries are read on a connection of their own (XREAD BLOCK).
//
// The stream is never trimmed here: a replica starting later must read
// every change its bundle does not supersede. Once every replica serves a
// bundle built after some entries, an operator may drop those with
// XTRIM catalog:{changes}:stream MINID <id> (docs/scaling.md).
import { redisClient } from '../state/redis-client';
import { within } from '../util/within';

import { CatalogChange, formatChange, parseChange } from './catalog-log';

export const STREAM_KEY = 'catalog:{changes}:stream';
export const HEAD_KEY = 'catalog:{changes}:head';

/** How long one XREAD waits for new entries before it is sent again. */
const BLOCK_MS = 1000;

const APPEND = "local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV)) redis.call('SET', KEYS[2], id) return id";

/** One entry of the stream: a call's changes, in order. */
export interface StreamEntry {
  id: string;
  /** The replica that made the call. */
  origin: string;
  /** Its call number there. */
  call: number;
  changes: CatalogChange[];
  /** Lines that did not parse (a corrupt or foreign entry); never applied. */
  skipped: number;
}

export interface RedisCatalogStreamOptions {
  /** redis://[user:password@]host:port[/db] or rediss://; with `cluster`, any node of the Cluster. */
  url: string;
  cluster?: boolean;
  /** Milliseconds a command may take before it fails. Default 1000. */
  commandTimeoutMs?: number;
}

/** Stream ids ("ms-seq") in order: negative, zero or positive like a comparator. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  const d = Number(am) - Number(bm);
  return d !== 0 ? Math.sign(d) : Math.sign(Number(as ?? 0) - Number(bs ?? 0));
}

interface Message {
  id: string;
  message: Record<string, string>;
}
interface Writer {
  eval(script: string, opts: { keys: string[]; arguments: string[] }): Promise<unknown>;
  get(key: string): Promise<string | null>;
  close(): Promise<void>;
  destroy(): void;
  readonly isOpen: boolean;
}
interface Connectable {
  connect(): Promise<unknown>;
}
interface Reader {
  xRange(key: string, start: string, end: string, opts: { COUNT: number }): Promise<Message[]>;
  xRead(stream: { key: string; id: string }, opts: { BLOCK: number; COUNT: number }): Promise<{ name: string; messages: Message[] }[] | null>;
  destroy(): void;
}

function toEntry(m: Message): StreamEntry {
  const changes: CatalogChange[] = [];
  let skipped = 0;
  for (const line of (m.message.c ?? '').split('\n')) {
    if (line.length === 0) continue;
    const c = parseChange(line);
    if (c) changes.push(c);
    else skipped++;
  }
  return { id: m.id, origin: m.message.o ?? '', call: Number(m.message.n ?? -1), changes, skipped };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RedisCatalogStream {
  private closed = false;
  private following: Promise<void> | null = null;

  private constructor(
    private readonly writer: Writer,
    private readonly reader: Reader,
    private readonly timeoutMs: number,
  ) {}

  /** Connects the writer (RESP3, caching the head) and the reader; throws when Redis cannot be reached. */
  static async connect(opts: RedisCatalogStreamOptions): Promise<RedisCatalogStream> {
    const writer = redisClient({ url: opts.url, cluster: opts.cluster, resp: 3, cacheEntries: 16 }) as unknown as Writer & Connectable;
    // XREAD BLOCK holds its connection: the reader has its own (RESP2: node-redis types XREAD's RESP2 reply).
    const reader = redisClient({ url: opts.url, cluster: opts.cluster, resp: 2 }) as unknown as Reader & Connectable;
    try {
      await writer.connect();
      await reader.connect();
    } catch (err) {
      writer.destroy();
      reader.destroy();
      throw err;
    }
    return new RedisCatalogStream(writer, reader, opts.commandTimeoutMs ?? 1000);
  }

  /** Appends one call's changes as one entry; resolves with its id once Redis has it. */
  async append(origin: string, call: number, changes: readonly CatalogChange[]): Promise<string> {
    const body = changes.map(formatChange).join('\n');
    const id = await within(this.writer.eval(APPEND, { keys: [STREAM_KEY, HEAD_KEY], arguments: ['o', origin, 'n', String(call), 'c', body] }), this.timeoutMs, 'catalog stream append');
    return String(id);
  }

  /** The id of the last entry appended by any replica ('0-0' for none), from the local cache when Redis has not changed it. */
  async head(): Promise<string> {
    return (await within(this.writer.get(HEAD_KEY), this.timeoutMs, 'catalog stream head')) ?? '0-0';
  }

  /** Every entry after `after` ('0-0': from the start), oldest first, read in chunks. */
  async readFrom(after: string): Promise<StreamEntry[]> {
    const out: StreamEntry[] = [];
    let from = after;
    for (;;) {
      const chunk = await within(this.reader.xRange(STREAM_KEY, `(${from}`, '+', { COUNT: 1000 }), this.timeoutMs, 'catalog stream read');
      for (const m of chunk) out.push(toEntry(m));
      if (chunk.length < 1000) return out;
      from = chunk[chunk.length - 1].id;
    }
  }

  /**
   * Follows the stream from after `after`: `onEntry` is called for each new
   * entry in order, the next one only once it settled. A failed read is
   * retried with backoff (`onError` hears of it) from where it stopped.
   */
  follow(after: string, onEntry: (e: StreamEntry) => Promise<void>, onError: (err: Error) => void): void {
    if (this.following) throw new Error('the catalog stream is already followed');
    let last = after;
    this.following = (async () => {
      let backoff = 50;
      while (!this.closed) {
        let reply: Awaited<ReturnType<Reader['xRead']>>;
        try {
          reply = await within(this.reader.xRead({ key: STREAM_KEY, id: last }, { BLOCK: BLOCK_MS, COUNT: 100 }), this.timeoutMs + BLOCK_MS, 'catalog stream read');
          backoff = 50;
        } catch (err) {
          if (this.closed) return;
          onError(err as Error);
          await sleep(backoff);
          backoff = Math.min(2 * backoff, 2000);
          continue;
        }
        for (const m of reply?.[0]?.messages ?? []) {
          await onEntry(toEntry(m));
          last = m.id;
        }
      }
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    // The reader may be blocked in XREAD: dropped, not waited for.
    this.reader.destroy();
    await this.following?.catch(() => undefined);
    if (this.writer.isOpen) await this.writer.close();
  }
}
