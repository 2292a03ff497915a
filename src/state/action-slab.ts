// Fixed-capacity action rings (row, code, ts) for many users, carved out of
// chunked typed arrays: no typed array per user, a slot is reused once its
// user is evicted. Each ring is ordered by time, ties in arrival order.

/** One user's ring: a slot of the slab, its oldest entry and its length. */
export interface Ring {
  slot: number;
  head: number;
  count: number;
}

interface Chunk {
  times: Float64Array;
  rows: Int32Array;
  codes: Uint8Array;
}

export class ActionSlab {
  private readonly chunks: Chunk[] = [];
  private readonly free: number[] = [];
  private nextSlot = 0;

  /**
   * @param capacity actions per ring.
   * @param chunkRings rings per chunk (one allocation of chunkRings x capacity x 13 bytes).
   */
  constructor(
    readonly capacity: number,
    private readonly chunkRings = 1024,
  ) {}

  /** Slots handed out and not released. */
  get used(): number {
    return this.nextSlot - this.free.length;
  }

  /** An empty ring in a fresh or recycled slot. */
  allocate(): Ring {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.nextSlot++;
      if (slot >= this.chunks.length * this.chunkRings) {
        const n = this.chunkRings * this.capacity;
        const buf = new ArrayBuffer(n * 13);
        this.chunks.push({
          times: new Float64Array(buf, 0, n),
          rows: new Int32Array(buf, n * 8, n),
          codes: new Uint8Array(buf, n * 12, n),
        });
      }
    }
    return { slot, head: 0, count: 0 };
  }

  release(ring: Ring): void {
    if (ring.slot < 0) return;
    this.free.push(ring.slot);
    ring.slot = -1;
    ring.count = 0;
  }

  /**
   * Inserts in time order (after entries with the same time). When the ring is
   * full the oldest entry goes; an action older than all of a full ring, or
   * one already there (same row, code and time), is dropped (returns false).
   */
  insert(ring: Ring, row: number, code: number, ts: number): boolean {
    const cap = this.capacity;
    const c = this.chunks[(ring.slot / this.chunkRings) | 0];
    const base = (ring.slot % this.chunkRings) * cap;
    const { times, rows, codes } = c;
    // logical index i lives at base + (head + i) mod cap
    let p = ring.count;
    let at = ring.head + p;
    if (at >= cap) at -= cap;
    while (p > 0) {
      const prev = at === 0 ? cap - 1 : at - 1;
      if (times[base + prev] <= ts) break;
      at = prev;
      p--;
    }
    // The same action at the same time is the same event delivered again: kept once.
    for (let q = p, k = at; q > 0; q--) {
      k = k === 0 ? cap - 1 : k - 1;
      if (times[base + k] !== ts) break;
      if (rows[base + k] === row && codes[base + k] === code) return false;
    }
    if (ring.count === cap) {
      if (p === 0) return false;
      // drop the oldest (usually the insertion point is the end: nothing moves)
      ring.head = ring.head + 1 === cap ? 0 : ring.head + 1;
      ring.count--;
      p--;
    }
    // shift the entries after the insertion point one step forward
    let j = ring.head + ring.count;
    if (j >= cap) j -= cap;
    for (let i = ring.count; i > p; i--) {
      const k = j === 0 ? cap - 1 : j - 1;
      times[base + j] = times[base + k];
      rows[base + j] = rows[base + k];
      codes[base + j] = codes[base + k];
      j = k;
    }
    times[base + j] = ts;
    rows[base + j] = row;
    codes[base + j] = code;
    ring.count++;
    return true;
  }

  /** Copies the ring, oldest first, into arrays of length >= ring.count. */
  copyInto(ring: Ring, rows: Int32Array, codes: Uint8Array, times: Float64Array): void {
    if (ring.count === 0) return;
    const cap = this.capacity;
    const c = this.chunks[(ring.slot / this.chunkRings) | 0];
    const base = (ring.slot % this.chunkRings) * cap;
    for (let i = 0, j = ring.head; i < ring.count; i++, j = j + 1 === cap ? 0 : j + 1) {
      rows[i] = c.rows[base + j];
      codes[i] = c.codes[base + j];
      times[i] = c.times[base + j];
    }
  }
}
