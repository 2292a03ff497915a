// The live catalog: the bundle's items plus the changes made since it was
// loaded (UpsertItems / DeleteItems). Per-item columns live in
// SharedArrayBuffers sized with headroom, so new rows are written in place and
// worker threads see them without a copy. Rows are never reused: a deleted
// row stays dead, and the index never returns it again.
import type { Bundle } from '../bundle/loader';
import { VectorIndex } from '../native';
import { adviseHugePages } from '../native/memory';

const DAY_MS = 86_400_000;

export interface CatalogColumns {
  dim: number;
  capacity: number;
  embeddings: Float32Array;
  logPrice: Float32Array;
  bias: Float32Array;
  createdAt: Float64Array;
}

export interface NewItem {
  id: string;
  brand: string;
  category: string;
  price: number;
  createdAt: number;
  contentHash: string;
  embedding: Float32Array;
  bias: number;
}

export class CatalogError extends Error {
  constructor(
    readonly kind: 'capacity' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

/** A fresh shared Float32Array, advised onto huge pages before it is filled (see native/memory). */
function sharedF32(n: number): Float32Array {
  const a = new Float32Array(new SharedArrayBuffer(Math.max(1, n) * 4)).subarray(0, n);
  adviseHugePages(a);
  return a;
}

/** A dictionary of strings to dense codes. */
class Dict {
  readonly names: string[];
  private readonly codes = new Map<string, number>();
  constructor(names: string[]) {
    this.names = names.slice();
    names.forEach((n, i) => this.codes.set(n, i));
  }
  code(name: string): number {
    let c = this.codes.get(name);
    if (c === undefined) {
      c = this.names.length;
      this.names.push(name);
      this.codes.set(name, c);
    }
    return c;
  }
  find(name: string): number | undefined {
    return this.codes.get(name);
  }
}

export class LiveCatalog {
  readonly dim: number;
  readonly capacity: number;
  /** Rows in use (alive or deleted). */
  size: number;
  readonly cols: CatalogColumns;
  readonly brand: Int32Array;
  readonly category: Int32Array;
  readonly contentHash: Int32Array;
  readonly alive: Uint8Array;
  readonly ids: string[];
  readonly rowOf = new Map<string, number>();
  readonly brands: Dict;
  readonly categories: Dict;
  private readonly hashes: Dict;
  private aliveCount: number;
  /** Deleted rows the index cannot drop (HNSW): excluded at search time. */
  readonly tombstones: number[] = [];
  readonly newItemMs: number;
  private readonly canRemove: boolean;
  private readonly bitmaps = new Map<number, Uint8Array>();
  /**
   * Counts changes of rows (upsert, delete). Every write to `alive` happens
   * synchronously right after a bump, so a result checked against `alive`
   * while this stayed the same is still right.
   */
  get version(): number {
    return this.changes;
  }

  /** Rows created within the last window at load, plus every upserted row, newest first. */
  private byNewest: number[];
  /** Bumped by every change of rows (upsert, delete): invalidates cached results. */
  private changes = 0;
  /** freshRows results per category (-1: all), valid for [from, until) on the request clock. */
  private readonly freshCache = new Map<number, { changes: number; limit: number; from: number; until: number; rows: Int32Array; emb?: Float32Array }>();

  constructor(
    readonly bundle: Bundle,
    readonly index: VectorIndex,
    headroom: number,
  ) {
    const n = bundle.items.n;
    this.dim = bundle.manifest.embeddingDim;
    this.capacity = n + Math.max(0, headroom);
    this.size = n;
    this.aliveCount = n;
    const cap = this.capacity;
    const embeddings = sharedF32(cap * this.dim);
    embeddings.set(bundle.embeddings);
    const logPrice = sharedF32(cap);
    logPrice.set(bundle.items.logPrice);
    const bias = sharedF32(cap);
    bias.set(bundle.bias);
    const createdAt = new Float64Array(new SharedArrayBuffer(Math.max(1, cap) * 8));
    adviseHugePages(createdAt);
    createdAt.set(bundle.items.createdAt);
    this.cols = { dim: this.dim, capacity: cap, embeddings, logPrice, bias, createdAt };
    const int = () => new Int32Array(new SharedArrayBuffer(Math.max(1, cap) * 4));
    this.brand = int();
    this.brand.set(bundle.items.brand);
    this.category = int();
    this.category.set(bundle.items.category);
    this.contentHash = int();
    this.contentHash.set(bundle.items.contentHash);
    this.alive = new Uint8Array(new SharedArrayBuffer(Math.max(1, cap)));
    this.alive.fill(1, 0, n);
    this.ids = bundle.items.ids.slice();
    this.ids.forEach((id, i) => this.rowOf.set(id, i));
    this.brands = new Dict(bundle.items.brandNames);
    this.categories = new Dict(bundle.items.categoryNames);
    this.hashes = new Dict([]);
    // Content hash codes of the bundle are dense already; mirror them in the dict.
    for (let i = 0; i < n; i++) this.hashes.code(`#${bundle.items.contentHash[i]}`);
    this.newItemMs = bundle.manifest.features.newItemDays * DAY_MS;
    this.canRemove = index.kind !== 'hnsw';
    // The fresh source only looks a window back: keep recent rows sorted, newest first.
    const recent: number[] = [];
    const newest = n > 0 ? bundle.items.createdAt.reduce((a, b) => (b > a ? b : a), -Infinity) : 0;
    for (let r = 0; r < n; r++) if (newest - createdAt[r] < 4 * this.newItemMs) recent.push(r);
    this.byNewest = recent.sort((a, b) => createdAt[b] - createdAt[a]);
  }

  get itemCount(): number {
    return this.aliveCount;
  }

  isNew(row: number, now: number): boolean {
    const t = this.cols.createdAt[row];
    return t <= now && now - t < this.newItemMs;
  }

  /**
   * The newest alive items within the new-item window (the fresh source),
   * newest first, at most `limit`, optionally of one category. Walks a list
   * kept sorted by creation time, so the cost is bounded by what it returns
   * plus the items it skips. The answer is cached until the catalog changes or
   * the clock reaches the next moment it could differ (an included item ages
   * out, or a skipped future-dated item becomes visible); do not modify it.
   */
  freshRows(now: number, limit: number, category?: number): Int32Array {
    const key = category ?? -1;
    const hit = this.freshCache.get(key);
    if (hit && hit.changes === this.changes && hit.limit === limit && now >= hit.from && now < hit.until) return hit.rows;
    const out: number[] = [];
    let until = Infinity;
    const { createdAt } = this.cols;
    for (const r of this.byNewest) {
      if (out.length >= limit) break;
      const t = createdAt[r];
      if (now - t >= this.newItemMs) break; // older from here on
      if (t > now) {
        until = Math.min(until, t);
        continue;
      }
      if (!this.alive[r] || (category !== undefined && this.category[r] !== category)) continue;
      out.push(r);
      until = Math.min(until, t + this.newItemMs);
    }
    const rows = Int32Array.from(out);
    this.freshCache.set(key, { changes: this.changes, limit, from: now, until, rows });
    return rows;
  }

  /**
   * freshRows() with those rows' embeddings packed one after another
   * (rows.length x dim), cached with them: scoring the fresh source then
   * streams one block instead of gathering rows spread over the catalog.
   */
  freshBlock(now: number, limit: number, category?: number): { rows: Int32Array; emb: Float32Array } {
    const rows = this.freshRows(now, limit, category);
    const hit = this.freshCache.get(category ?? -1)!;
    if (!hit.emb) {
      const d = this.dim;
      const emb = new Float32Array(rows.length * d);
      const src = this.cols.embeddings;
      for (let i = 0; i < rows.length; i++) emb.set(src.subarray(rows[i] * d, (rows[i] + 1) * d), i * d);
      hit.emb = emb;
    }
    return { rows, emb: hit.emb };
  }

  /** Bitmap over rows of one category (bit r%8 of byte r/8) for filtered search; kept up to date. */
  categoryBitmap(category: number): Uint8Array {
    let bm = this.bitmaps.get(category);
    if (!bm) {
      bm = new Uint8Array((this.capacity + 7) >> 3);
      for (let r = 0; r < this.size; r++) if (this.alive[r] && this.category[r] === category) bm[r >> 3] |= 1 << (r & 7);
      this.bitmaps.set(category, bm);
    }
    return bm;
  }

  /**
   * Adds new items or updates existing ones. An update keeps the item's row
   * (user state, purchases and impressions, refer to rows) and replaces its
   * columns and its vector in the index.
   */
  async upsert(items: readonly NewItem[]): Promise<{ inserted: number; updated: number }> {
    this.changes++;
    for (const it of items) {
      if (it.embedding.length !== this.dim) throw new CatalogError('invalid', `item ${it.id}: embedding has ${it.embedding.length} values, the catalog's dim is ${this.dim}`);
    }
    const fresh = items.filter((it) => !this.rowOf.has(it.id)).length;
    if (this.size + fresh > this.capacity) {
      throw new CatalogError('capacity', `catalog capacity ${this.capacity} reached (${this.size} rows used, ${fresh} more asked); reload a bundle with the new items`);
    }
    let inserted = 0;
    const updatedRows: number[] = [];
    const rows: number[] = [];
    for (const it of items) {
      let r = this.rowOf.get(it.id);
      const isUpdate = r !== undefined;
      if (r !== undefined) {
        updatedRows.push(r);
        this.kill(r); // leaves bitmaps and the alive count; revived below
      } else {
        r = this.size++;
        inserted++;
        this.ids[r] = it.id;
        this.rowOf.set(it.id, r);
      }
      this.cols.embeddings.set(it.embedding, r * this.dim);
      const { logPriceMean, logPriceStd } = this.bundle.manifest.features;
      this.cols.logPrice[r] = (Math.log(it.price) - logPriceMean) / logPriceStd;
      this.cols.bias[r] = it.bias;
      const createdChanged = this.cols.createdAt[r] !== it.createdAt;
      this.cols.createdAt[r] = it.createdAt;
      this.brand[r] = this.brands.code(it.brand);
      this.category[r] = this.categories.code(it.category);
      this.contentHash[r] = this.hashes.code(it.contentHash);
      this.alive[r] = 1;
      this.aliveCount++;
      const bm = this.bitmaps.get(this.category[r]);
      if (bm) bm[r >> 3] |= 1 << (r & 7);
      if (!isUpdate || createdChanged) {
        const at = this.byNewest.indexOf(r);
        if (at >= 0) this.byNewest.splice(at, 1);
        this.insertByNewest(r);
      }
      rows.push(r);
    }
    await this.dropFromIndex(updatedRows);
    const x = new Float32Array(rows.length * this.dim);
    rows.forEach((r, k) => x.set(this.cols.embeddings.subarray(r * this.dim, (r + 1) * this.dim), k * this.dim));
    await this.index.add(x, BigInt64Array.from(rows, (r) => BigInt(r)));
    return { inserted, updated: updatedRows.length };
  }

  /** Deletes items by id; returns the ids it did not know. */
  async delete(ids: readonly string[]): Promise<{ deleted: number; unknown: string[] }> {
    const rows: number[] = [];
    const unknown: string[] = [];
    this.changes++;
    for (const id of ids) {
      const r = this.rowOf.get(id);
      if (r === undefined) {
        unknown.push(id);
        continue;
      }
      this.kill(r);
      this.rowOf.delete(id);
      rows.push(r);
    }
    await this.dropFromIndex(rows, true);
    return { deleted: rows.length, unknown };
  }

  private kill(row: number): void {
    if (this.alive[row]) {
      this.alive[row] = 0;
      this.aliveCount--;
      const bm = this.bitmaps.get(this.category[row]);
      if (bm) bm[row >> 3] &= ~(1 << (row & 7));
    }
  }


  private insertByNewest(row: number): void {
    const t = this.cols.createdAt[row];
    const list = this.byNewest;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cols.createdAt[list[mid]] >= t) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, row);
  }

  /** Removes rows' vectors from the index; HNSW cannot, so deleted rows are excluded at search time. */
  private async dropFromIndex(rows: number[], deleted = false): Promise<void> {
    if (rows.length === 0) return;
    if (this.canRemove) await this.index.remove(BigInt64Array.from(rows, (r) => BigInt(r)));
    else if (deleted) this.tombstones.push(...rows);
  }
}
