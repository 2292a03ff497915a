// Durable log of catalog changes: what makes an acknowledged UpsertItems or
// DeleteItems survive a restart of the server (and, with the in-memory store
// of catalog-changes.ts, a bundle reload).
//
// Layout: segments `catalog-<12-digit sequence>.jsonl` in the log directory
// (journal.ts: group commit, sync 'data' or 'none', torn-line recovery), one
// change of one item per line, as a JSON object:
//
//   {"op":"upsert","ts":<ms>,"bundle":{"version":"..","createdAt":".."},
//    "item":{"id":"..","brand":"..","category":"..","price":9.5,"createdAt":<ms>,
//            "contentHash":"..","bias":0,"embedding":"<base64, float32 little-endian>"}}
//   {"op":"delete","ts":<ms>,"bundle":{..},"id":".."}
//
// `ts` is the server's wall clock when the change was logged and `bundle` the
// manifest version and createdAt of the bundle it was made on: the supersede
// rule (catalog-changes.ts) compares them with a reloaded bundle's createdAt.
// The log is never trimmed by age: it is compacted (rewritten with the live
// changes only) by catalog-changes.ts.
import type { NewItem } from './catalog';
import { Journal, JournalCodec, JournalRecovery, JournalSync } from '../state/journal';

/** The bundle a change was made on. */
export interface ChangeBase {
  version: string;
  createdAt: string;
}

export type CatalogChange =
  | { op: 'upsert'; ts: number; bundle: ChangeBase; item: NewItem }
  | { op: 'delete'; ts: number; bundle: ChangeBase; id: string };

/** The item id a change is about. */
export function changeId(c: CatalogChange): string {
  return c.op === 'upsert' ? c.item.id : c.id;
}

export interface CatalogLogOptions {
  dir: string;
  /** 'data': fdatasync before a change is acknowledged (default); 'none': write() only. */
  sync?: JournalSync;
  /** Records queued but not yet written; past this, changes get RESOURCE_EXHAUSTED. Default 100000. */
  maxPendingRecords?: number;
  onWrite?: (seconds: number, records: number) => void;
  onError?: (err: Error) => void;
}

export type CatalogLog = Journal<CatalogChange>;

function encodeEmbedding(v: Float32Array): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i], i * 4);
  return buf.toString('base64');
}

function decodeEmbedding(s: string): Float32Array | null {
  const buf = Buffer.from(s, 'base64');
  if (buf.length === 0 || buf.length % 4 !== 0 || buf.toString('base64') !== s) return null;
  const v = new Float32Array(buf.length / 4);
  for (let i = 0; i < v.length; i++) {
    v[i] = buf.readFloatLE(i * 4);
    if (!Number.isFinite(v[i])) return null;
  }
  return v;
}

export function formatChange(c: CatalogChange): string {
  const head = { op: c.op, ts: c.ts, bundle: { version: c.bundle.version, createdAt: c.bundle.createdAt } };
  if (c.op === 'delete') return JSON.stringify({ ...head, id: c.id });
  const it = c.item;
  const item = { id: it.id, brand: it.brand, category: it.category, price: it.price, createdAt: it.createdAt, contentHash: it.contentHash, bias: it.bias };
  return JSON.stringify({ ...head, item: { ...item, embedding: encodeEmbedding(it.embedding) } });
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Parses one log line; null unless it is a well-formed change (a corrupt line is skipped, never applied). */
export function parseChange(line: string): CatalogChange | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObj(v) || !isNum(v.ts) || v.ts < 0 || !isObj(v.bundle)) return null;
  const { version, createdAt } = v.bundle;
  if (typeof version !== 'string' || typeof createdAt !== 'string') return null;
  const head = { ts: v.ts, bundle: { version, createdAt } };
  if (v.op === 'delete') return isId(v.id) ? { op: 'delete', ...head, id: v.id } : null;
  if (v.op !== 'upsert' || !isObj(v.item)) return null;
  const it = v.item;
  if (!isId(it.id) || typeof it.brand !== 'string' || typeof it.category !== 'string' || typeof it.contentHash !== 'string') return null;
  if (!isNum(it.price) || !(it.price > 0) || !isNum(it.createdAt) || !isNum(it.bias) || typeof it.embedding !== 'string') return null;
  const embedding = decodeEmbedding(it.embedding);
  if (!embedding) return null;
  const item: NewItem = { id: it.id, brand: it.brand, category: it.category, price: it.price, createdAt: it.createdAt, contentHash: it.contentHash, bias: it.bias, embedding };
  return { op: 'upsert', ...head, item };
}

const CODEC: JournalCodec<CatalogChange> = { format: formatChange, parse: parseChange };

/** Opens (creating if needed) the catalog log in `opts.dir` and reads back the changes it holds, oldest first. */
export function openCatalogLog(opts: CatalogLogOptions): Promise<{ journal: CatalogLog; recovered: JournalRecovery<CatalogChange> }> {
  return Journal.open({
    dir: opts.dir,
    prefix: 'catalog',
    label: 'catalog log',
    codec: CODEC,
    maxRecords: Infinity,
    segmentRecords: Infinity,
    sync: opts.sync,
    maxPendingRecords: opts.maxPendingRecords,
    onWrite: opts.onWrite,
    onError: opts.onError,
  });
}
