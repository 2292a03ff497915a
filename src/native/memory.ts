// Transparent huge pages for the catalog's large columns. Candidate rows are
// read at random across hundreds of MiB; with 4 KiB pages nearly every row
// costs a TLB miss, and under a hypervisor each miss walks two levels of
// page tables. RANK_HUGE_PAGES=0 turns the advice off (for comparisons).
import { native } from './binding';

/**
 * Advises the kernel to back the 2 MiB-aligned interior of `array` with huge
 * pages from the next time its pages are touched (call it before filling a
 * fresh array); with `collapse`, also moves what is resident now (a copy:
 * keep it off the event loop). Returns the bytes advised: 0 when the array
 * is under 2 MiB, the kernel refuses, or RANK_HUGE_PAGES=0.
 */
export function adviseHugePages(array: Float32Array | Float64Array | Int32Array | Uint8Array, collapse = false): number {
  if (process.env.RANK_HUGE_PAGES === '0') return 0;
  return native.adviseHugePages(array, collapse);
}
