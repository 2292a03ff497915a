// A reusable set over catalog rows: membership is a stamp per row, so
// clearing is O(1) (a new epoch) and no per-candidate objects are made. One
// instance per engine; use it only within one synchronous section (no await
// between clear() and the last has()), since requests interleave at awaits.
export class RowMarks {
  private readonly stamp: Uint32Array;
  private epoch = 1;

  constructor(capacity: number) {
    this.stamp = new Uint32Array(Math.max(1, capacity));
  }

  /** Empties the set. */
  clear(): void {
    if (++this.epoch === 0xffffffff) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
  }

  add(row: number): void {
    this.stamp[row] = this.epoch;
  }

  has(row: number): boolean {
    return this.stamp[row] === this.epoch;
  }
}
