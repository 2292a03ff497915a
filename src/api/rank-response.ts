// The Rank response, written once. The gRPC path encodes the protobuf wire
// format straight from the engine's output (typed arrays and catalog
// columns), instead of building a snake_case object per item and handing it
// to protobufjs's fromObject + encode (one object per item and per objective,
// then a second copy of each: about 5% of the server's CPU per W2 Rank in a
// profile at 100/s). The HTTP gateway, which prints proto3 JSON, asks the
// same value for its object form. Field numbers follow proto/ranking/v1.
import type { RankOutput } from '../pipeline/request';
import { PROVENANCE } from '../pipeline/types';

const PROVENANCE_NAMES: Record<number, string> = {
  [PROVENANCE.retrieved]: 'PROVENANCE_RETRIEVED',
  [PROVENANCE.fresh]: 'PROVENANCE_FRESH',
  [PROVENANCE.provided]: 'PROVENANCE_PROVIDED',
};

// Wire types: 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit.
const tag = (field: number, wire: number): number => (field << 3) | wire;

/** A growable buffer with the few protobuf writes this message needs. */
class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(v: number): void {
    this.need(5);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  /** A non-empty string field (proto3 leaves empty ones out). */
  string(field: number, s: string): void {
    if (s.length === 0) return;
    const n = Buffer.byteLength(s);
    this.varint(tag(field, 2));
    this.varint(n);
    this.need(n);
    this.pos += this.buf.write(s, this.pos);
  }

  /** A string of a repeated field: written even when empty. */
  element(field: number, s: string): void {
    if (s.length > 0) return this.string(field, s);
    this.varint(tag(field, 2));
    this.varint(0);
  }

  float(field: number, v: number): void {
    if (v === 0 && !Object.is(v, -0)) return;
    this.varint(tag(field, 5));
    this.need(4);
    this.pos = this.buf.writeFloatLE(v, this.pos);
  }

  double(field: number, v: number): void {
    if (v === 0 && !Object.is(v, -0)) return;
    this.varint(tag(field, 1));
    this.need(8);
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }

  uint(field: number, v: number): void {
    if (v === 0) return;
    this.varint(tag(field, 0));
    this.varint(v >>> 0);
  }

  bool(field: number, v: boolean): void {
    if (!v) return;
    this.varint(tag(field, 0));
    this.varint(1);
  }

  /**
   * Starts a nested message: its fields go after a 5-byte gap left for the
   * length; end() writes the length and moves the bytes back over the
   * unused part of the gap.
   */
  begin(field: number): number {
    this.varint(tag(field, 2));
    this.need(5);
    this.pos += 5;
    return this.pos;
  }

  end(start: number): void {
    const len = this.pos - start;
    this.pos = start - 5;
    this.varint(len);
    if (this.pos < start) this.buf.copyWithin(this.pos, start, start + len);
    this.pos += len;
  }

  /** An exact-size copy of what was written. */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }
}

/** The writer's buffer is kept between calls (the event loop runs one encode at a time). */
let shared = new Writer(16 << 10);

/** What names a row: the serving engine's catalog columns (LiveCatalog has them). */
export interface RowNames {
  readonly ids: readonly string[];
  readonly brand: ArrayLike<number>;
  readonly category: ArrayLike<number>;
  readonly brands: { readonly names: readonly string[] };
  readonly categories: { readonly names: readonly string[] };
}

/** A Rank response: the engine's output and what names its rows. */
export class RankResponse {
  constructor(
    private readonly out: RankOutput,
    private readonly catalog: RowNames,
    private readonly objectives: readonly string[],
    private readonly unknown: string[],
    private readonly requestId: string,
    /** The rank profile, and under an experiment its name and the user's bucket. */
    readonly served: { profile: string; experiment?: string; bucket?: string } = { profile: '' },
  ) {}

  /** The protobuf encoding of ranking.v1.RankResponse. */
  encode(): Buffer {
    const w = shared;
    w.pos = 0;
    const { out, catalog, objectives } = this;
    for (const it of out.items) {
      const item = w.begin(1);
      w.string(1, catalog.ids[it.row]);
      w.float(2, it.score);
      for (let k = 0; k < objectives.length; k++) {
        const o = w.begin(3);
        w.string(1, objectives[k]);
        w.float(2, it.objectives[k]);
        w.end(o);
      }
      w.uint(4, it.provenance);
      w.bool(5, it.strong);
      w.bool(6, it.exploration);
      w.string(7, catalog.brands.names[catalog.brand[it.row]]);
      w.string(8, catalog.categories.names[catalog.category[it.row]]);
      for (const s of it.stageScores ?? []) {
        const m = w.begin(9);
        w.string(1, s.stage);
        w.float(2, s.score);
        w.end(m);
      }
      if (it.interest) w.uint(10, it.interest);
      w.end(item);
    }
    w.string(2, out.bundleVersion);
    for (const id of this.unknown) w.element(3, id);
    w.bool(4, out.degraded);
    for (const d of out.degradations) w.element(5, d);
    for (const s of out.stages) {
      const m = w.begin(6);
      w.string(1, s.stage);
      w.double(2, s.millis);
      w.uint(3, s.candidatesIn);
      w.uint(4, s.candidatesOut);
      w.string(5, s.note ?? '');
      w.end(m);
    }
    for (const r of out.removed) {
      const m = w.begin(7);
      w.string(1, catalog.ids[r.row]);
      w.string(2, r.stage);
      w.string(3, r.reason);
      w.end(m);
    }
    w.string(8, this.requestId);
    w.string(9, this.served.profile);
    w.string(10, this.served.experiment ?? '');
    w.string(11, this.served.bucket ?? '');
    const bytes = w.finish();
    if (w.buf.length > 1 << 20) shared = new Writer(16 << 10); // do not keep a huge buffer
    return bytes;
  }

  /** The same response as the object proto-loader's types describe (keepCase), for the JSON gateway. */
  toObject(): object {
    const { out, catalog, objectives } = this;
    return {
      items: out.items.map((it) => ({
        item_id: catalog.ids[it.row],
        score: it.score,
        objectives: objectives.map((o, k) => ({ objective: o, probability: it.objectives[k] })),
        provenance: PROVENANCE_NAMES[it.provenance],
        strong_scored: it.strong,
        exploration: it.exploration,
        brand: catalog.brands.names[catalog.brand[it.row]],
        category: catalog.categories.names[catalog.category[it.row]],
        stage_scores: it.stageScores ?? [],
        interest: it.interest ?? 0,
      })),
      bundle_version: out.bundleVersion,
      unknown_candidate_ids: this.unknown,
      degraded: out.degraded,
      degradations: out.degradations,
      stages: out.stages.map((s) => ({ stage: s.stage, millis: s.millis, candidates_in: s.candidatesIn, candidates_out: s.candidatesOut, note: s.note })),
      removed: out.removed.map((r) => ({ item_id: catalog.ids[r.row], stage: r.stage, reason: r.reason })),
      request_id: this.requestId,
      profile: this.served.profile,
      experiment: this.served.experiment ?? '',
      bucket: this.served.bucket ?? '',
    };
  }
}

/**
 * The serializer grpc-js calls for Rank: a RankResponse encodes itself, any
 * other value (an object) goes to the proto-loader serializer as before.
 */
export function rankResponseSerializer(fallback: (value: unknown) => Buffer): (value: unknown) => Buffer {
  return (value) => (value instanceof RankResponse ? value.encode() : fallback(value));
}
