// The served-impression log: what each logged Rank served, for training and
// for evaluating a new policy offline (IPS / SNIPS over the propensities).
//
// Layout: segments `impressions-<12-digit sequence>.jsonl` in the log
// directory (journal.ts: group commit, sync 'none' by default, torn-line
// recovery), one Rank per line:
//
//   {"id":"<request id>","ts":<ms>,"user":"..","surface":"..","device":"..",
//    "category":".." (if any),"profile":"..","experiment":"..","bucket":"..",
//    "bundle":"<version>","exploration":"epsilon-greedy","epsilon":0.1,
//    "objectives":["click","wishlist","cart","purchase"],"weights":[..],
//    "layout":"user-item-v1","uf":"<base64 float32 little-endian>",
//    "items":[{"item":"..","pos":1,"prov":"retrieved","score":..,
//              "p":[<objective probabilities>],"stages":{"retrieval":..,"prerank":..},
//              "explored":false,"propensity":0.9}, ...]}
//
// `uf` is the user part of the rankers' input as the rankers saw it (layout
// `layout`, docs/bundle-format.md); the item part follows from the bundle's
// item columns and `ts` (native/features.ts), so a line holds each served
// item's whole ranker input without repeating the catalog.
// `propensity` is the probability that the policy put the item at its
// position given the positions before it (stages/policy/exploration.ts); the
// probability of the whole page is their product. The log is written, never
// read back by the server, and keeps every segment: the trainers read it
// (train/), and whoever runs them deletes what they no longer need.
import { Journal, JournalCodec, JournalSync } from './journal';

export interface LoggedImpressionItem {
  item: string;
  /** 1-based position on the page. */
  pos: number;
  prov: 'retrieved' | 'fresh' | 'provided';
  score: number;
  /** The objective probabilities, in `objectives` order. */
  p: number[];
  /** Each stage's score of the item (the stages that scored it). */
  stages: Record<string, number>;
  explored: boolean;
  propensity: number;
}

export interface LoggedImpression {
  id: string;
  ts: number;
  user: string;
  surface: string;
  device: string;
  category?: string;
  profile?: string;
  experiment?: string;
  bucket?: string;
  bundle: string;
  exploration: string;
  epsilon: number;
  objectives: string[];
  weights: number[];
  /** The feature layout of `uf` (the bundle manifest's features.layout). */
  layout?: string;
  /** The user features the rankers saw, float32 little-endian, base64. */
  uf?: string;
  items: LoggedImpressionItem[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses one line; null unless it has the shape of an impression (a corrupt line is skipped). */
export function parseImpression(line: string): LoggedImpression | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObj(v) || typeof v.id !== 'string' || typeof v.user !== 'string' || typeof v.ts !== 'number' || !Array.isArray(v.items)) return null;
  if (!v.items.every((it) => isObj(it) && typeof it.item === 'string' && typeof it.pos === 'number' && typeof it.propensity === 'number')) return null;
  return v as unknown as LoggedImpression;
}

const CODEC: JournalCodec<LoggedImpression> = { format: (r) => JSON.stringify(r), parse: parseImpression };

export interface ImpressionLogOptions {
  dir: string;
  /** Ranks per segment file. Default 10000. */
  segmentRecords?: number;
  /** 'none' (default): write() only, a crash of the machine may lose the last writes; 'data': fdatasync each group. */
  sync?: JournalSync;
  /** Ranks queued but not yet written; past this a Rank is not logged (counted). Default 10000. */
  maxPendingRecords?: number;
  onWrite?: (seconds: number, records: number) => void;
  onError?: (err: Error) => void;
}

export type ImpressionLog = Journal<LoggedImpression>;

/** Opens (creating if needed) the impression log in `opts.dir`, appending to its newest segment. */
export async function openImpressionLog(opts: ImpressionLogOptions): Promise<ImpressionLog> {
  const { journal } = await Journal.open({
    dir: opts.dir,
    prefix: 'impressions',
    label: 'impression log',
    codec: CODEC,
    maxRecords: Infinity,
    segmentRecords: opts.segmentRecords ?? 10_000,
    sync: opts.sync ?? 'none',
    maxPendingRecords: opts.maxPendingRecords ?? 10_000,
    onWrite: opts.onWrite,
    onError: opts.onError,
    readBack: false,
  });
  return journal;
}
