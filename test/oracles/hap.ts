// Top-k and the HAP router in plain TypeScript: the reference for
// native/hap.cc and native/topk.h, and the no-addon baseline. The router
// repeats the native float32 arithmetic (Math.fround) so results match exactly.
//
//   route: t = midpoint of the M-th and (M+1)-th largest light scores,
//          h_i = |s_i - t| - u_i; the (at most B) smallest h go to the strong model.
//   merge: strong scores of the routed set mapped onto the light scale by
//          matching mean and std over that set (kept as is when the strong
//          scores have no spread), then the top M of all K by final score.

const f32 = Math.fround;

/** Positions of the k largest scores, best first; ties go to the lower position. */
export function topKReference(scores: ArrayLike<number>, k: number): Int32Array {
  const n = scores.length;
  k = Math.max(0, Math.min(k, n));
  if (k === 0) return new Int32Array(0);
  // worse(a, b): a ranks after b.
  const worse = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  // Bounded heap whose root is the worst position kept so far.
  const heap = new Int32Array(k);
  let size = 0;
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < size && worse(heap[l], heap[w])) w = l;
      if (r < size && worse(heap[r], heap[w])) w = r;
      if (w === i) return;
      const t = heap[i];
      heap[i] = heap[w];
      heap[w] = t;
      i = w;
    }
  };
  for (let p = 0; p < n; p++) {
    if (size < k) {
      let i = size++;
      heap[i] = p;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(heap[i], heap[parent])) break;
        const t = heap[i];
        heap[i] = heap[parent];
        heap[parent] = t;
        i = parent;
      }
    } else if (worse(heap[0], p)) {
      heap[0] = p;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : -1));
}

/** Positions to send to the strong model, most uncertain first (at most `budget`). */
export function hapRouteReference(
  light: Float32Array,
  keep: number,
  budget: number,
  uncertainty?: Float32Array,
): Int32Array {
  const K = light.length;
  const B = Math.min(budget, K);
  if (keep === 0 || keep >= K || B === 0) return new Int32Array(0);
  if (uncertainty !== undefined && uncertainty.length !== K) throw new RangeError('uncertainty length must equal light length');
  const asc = Float32Array.from(light).sort();
  const mth = asc[K - keep];
  const next = asc[K - keep - 1];
  const t = f32(0.5 * f32(mth + next));
  const negH = new Float32Array(K);
  for (let i = 0; i < K; i++) {
    const h = f32(Math.abs(f32(light[i] - t)) - (uncertainty === undefined ? 0 : uncertainty[i]));
    negH[i] = -h;
  }
  return topKReference(negH, B);
}

/** Final order (best first, at most `keep`) and scores after replacing the routed candidates' scores. */
export function hapMergeReference(
  light: Float32Array,
  hard: Int32Array,
  strong: Float32Array,
  keep: number,
): { order: Int32Array; scores: Float32Array } {
  const K = light.length;
  const n = hard.length;
  if (strong.length !== n) throw new RangeError('strong length must equal hard length');
  const seen = new Uint8Array(K);
  for (let i = 0; i < n; i++) {
    const p = hard[i];
    if (p < 0 || p >= K || seen[p]) throw new RangeError(`hard[${i}] = ${p} is out of range or repeated`);
    seen[p] = 1;
  }
  const final = Float32Array.from(light);
  if (n > 0) {
    let ml = 0;
    let ms = 0;
    for (let i = 0; i < n; i++) {
      ml += light[hard[i]];
      ms += strong[i];
    }
    ml /= n;
    ms /= n;
    let vl = 0;
    let vs = 0;
    for (let i = 0; i < n; i++) {
      const a = light[hard[i]] - ml;
      const b = strong[i] - ms;
      vl += a * a;
      vs += b * b;
    }
    if (vs > 1e-24) {
      const scale = Math.sqrt(vl / vs);
      for (let i = 0; i < n; i++) final[hard[i]] = ml + (strong[i] - ms) * scale;
    }
  }
  const order = topKReference(final, keep);
  const scores = new Float32Array(order.length);
  for (let i = 0; i < order.length; i++) scores[i] = final[order[i]];
  return { order, scores };
}
