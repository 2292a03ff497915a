// A reusable set over catalog rows: one bit per row (a 1M-row catalog takes
// 125 KB, so membership tests stay in the L2 cache where a stamp per row would
// miss it), and the rows added are remembered so clear() only touches their
// bytes. No per-candidate objects are made. One instance per engine; use it
// only within one synchronous section (no await between clear() and the last
// has()), since requests interleave at awaits.
export class RowMarks {
  private readonly bits: Uint8Array;
  private added: Int32Array;
  private n = 0;

  constructor(capacity: number) {
    this.bits = new Uint8Array((Math.max(1, capacity) + 7) >> 3);
    this.added = new Int32Array(1024);
  }

  /** Empties the set. */
  clear(): void {
    const bits = this.bits;
    const added = this.added;
    for (let i = 0; i < this.n; i++) bits[added[i] >> 3] = 0;
    this.n = 0;
  }

  add(row: number): void {
    const byte = row >> 3;
    const bit = 1 << (row & 7);
    if (this.bits[byte] & bit) return;
    this.bits[byte] |= bit;
    if (this.n === this.added.length) {
      const grown = new Int32Array(this.added.length * 2);
      grown.set(this.added);
      this.added = grown;
    }
    this.added[this.n++] = row;
  }

  has(row: number): boolean {
    return (this.bits[row >> 3] & (1 << (row & 7))) !== 0;
  }
}
