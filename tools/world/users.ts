// Demo users: each has a mixture of preferred categories (Zipf-popular ones
// more often), a taste for a few brands, a preferred price level and a device.
import { Rng, normalizeRow, zipfCumulative } from '../../src/util/random';
import { Catalog } from './catalog';
import { WorldConfig } from './schema';
import { DEVICES } from '../../src/models/schema';

export interface Users {
  n: number;
  dim: number;
  /** Unit preference vectors, n x dim (the truth). */
  pref: Float32Array;
  /** Preferred standardised log price. */
  pricePref: Float32Array;
  /** Index into DEVICES: the device the user mostly shops on. */
  device: Uint8Array;
  /** 1 for the cold-start segment (few actions), 0 for returning users. */
  isNewUser: Uint8Array;
  /** Preferred categories and their weights, per user. */
  categories: Int32Array[];
  weights: Float32Array[];
}

export function userId(row: number): string {
  return `user-${String(row).padStart(6, '0')}`;
}

export function generateUsers(cfg: WorldConfig, cat: Catalog, rng: Rng): Users {
  const r = rng.fork(2);
  const { users: n, dim: d } = cfg;
  const C = cat.categoryNames.length;
  const catCum = zipfCumulative(C, 0.8);
  // Mean log price per category, for price preferences that fit the categories.
  const sum = new Float64Array(C);
  const cnt = new Float64Array(C);
  for (let i = 0; i < cat.n; i++) {
    sum[cat.category[i]] += cat.logPrice[i];
    cnt[cat.category[i]] += 1;
  }
  // Brands seen in each category, and one representative item per brand.
  const brandsByCategory: number[][] = Array.from({ length: C }, () => []);
  const brandItem = new Int32Array(cat.brandNames.length).fill(-1);
  for (let i = 0; i < cat.n; i++) {
    const b = cat.brand[i];
    if (brandItem[b] < 0) {
      brandItem[b] = i;
      brandsByCategory[cat.category[i]].push(b);
    }
  }

  const pref = new Float32Array(n * d);
  const pricePref = new Float32Array(n);
  const device = new Uint8Array(n);
  const isNewUser = new Uint8Array(n);
  const categories: Int32Array[] = [];
  const weights: Float32Array[] = [];
  const noise = new Float32Array(d);
  for (let u = 0; u < n; u++) {
    const k = 1 + Math.min(2, Math.floor(-Math.log(1 - r.next()) * 1.2));
    const cs: number[] = [];
    while (cs.length < k) {
      const c = r.pickCumulative(catCum);
      if (!cs.includes(c)) cs.push(c);
    }
    const w = Float32Array.from(cs, () => r.gamma(1));
    const ws = w.reduce((a, b) => a + b, 0);
    for (let j = 0; j < w.length; j++) w[j] /= ws;
    categories.push(Int32Array.from(cs));
    weights.push(w);
    let pp = 0;
    const o = u * d;
    for (let j = 0; j < cs.length; j++) {
      const c = cs[j];
      pp += w[j] * (cnt[c] > 0 ? sum[c] / cnt[c] : 0);
      for (let t = 0; t < d; t++) pref[o + t] += w[j] * cat.categoryCentres[c * d + t];
      // A favourite brand in this category pulls the taste towards its items.
      const bs = brandsByCategory[c];
      if (bs.length > 0) {
        const rep = brandItem[bs[r.int(bs.length)]];
        for (let t = 0; t < d; t++) pref[o + t] += 0.35 * w[j] * cat.latent[rep * d + t];
      }
    }
    r.normals(noise, 0.25 / Math.sqrt(d));
    for (let t = 0; t < d; t++) pref[o + t] += noise[t];
    normalizeRow(pref, u, d);
    pricePref[u] = pp + 0.5 * r.normal();
    const dv = r.next();
    device[u] = dv < 0.55 ? 0 : dv < 0.8 ? 2 : 1;
    isNewUser[u] = r.next() < cfg.newUserRate ? 1 : 0;
  }
  if (DEVICES.length !== 3) throw new Error('device mix assumes three devices');
  return { n, dim: d, pref, pricePref, device, isNewUser, categories, weights };
}
