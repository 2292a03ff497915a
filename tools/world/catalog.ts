// The demo catalog: categories and brands with a long tail, item latent
// vectors clustered by category and brand, prices, popularity, new items and
// (near-)duplicates. Latent vectors are the truth; the served embeddings are
// noisy copies of them, as a learned embedding would be.
import { Rng, normalizeRow, zipfCumulative } from '../../src/util/random';
import { DAY_MS, WorldConfig } from './schema';

export interface Catalog {
  n: number;
  dim: number;
  /** Unit latent vectors, n x dim (the truth). */
  latent: Float32Array;
  /** Served embeddings, n x dim, unit norm. */
  embeddings: Float32Array;
  category: Int32Array;
  brand: Int32Array;
  price: Float64Array;
  /** Standardised log price (mean 0, std 1 over the catalog) of the rounded price. */
  logPrice: Float32Array;
  logPriceMean: number;
  logPriceStd: number;
  /** Standardised log popularity (the popularity bias). */
  popularity: Float32Array;
  /** Creation time, ms since the epoch. */
  createdAt: Float64Array;
  isNew: Uint8Array;
  /** Content hash as an index into contentHashes: duplicates share it. */
  contentId: Int32Array;
  categoryNames: string[];
  brandNames: string[];
  /** Unit category centres, categories x dim. */
  categoryCentres: Float32Array;
}

const CATEGORY_NAMES = [
  'dresses', 'sneakers', 't-shirts', 'jeans', 'jackets', 'shirts', 'boots', 'bags', 'skirts', 'knitwear',
  'sandals', 'coats', 'trousers', 'watches', 'sunglasses', 'swimwear', 'hoodies', 'suits', 'scarves', 'hats',
  'belts', 'jewellery', 'sportswear', 'lingerie', 'socks', 'gloves', 'wallets', 'shorts', 'blouses', 'loafers',
];

export function itemId(row: number): string {
  return `item-${String(row).padStart(7, '0')}`;
}

export function contentHash(seed: number, contentId: number): string {
  // A stable 64-bit hex digest of (seed, contentId); not cryptographic.
  let h1 = 0x811c9dc5 ^ seed;
  let h2 = 0x01000193 ^ contentId;
  for (let i = 0; i < 4; i++) {
    h1 = Math.imul(h1 ^ (contentId >>> (i * 8)), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ (h1 >>> 3), 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** The catalog's shape: category centres, brand offsets and home categories, price levels. */
interface CatalogStructure {
  /** Unit category centres, categories x dim. */
  categoryCentres: Float32Array;
  /** Unit brand offsets, brands x dim. */
  brandOffsets: Float32Array;
  /** Cumulative category popularity (Zipf). */
  catCum: Float64Array;
  /** The brands that sell in each category. */
  brandsOf: number[][];
  brandPriceLevel: Float32Array;
  catPriceLevel: Float32Array;
}

/** The items of a catalog, row by row. */
type CatalogItems = Pick<Catalog, 'latent' | 'embeddings' | 'category' | 'brand' | 'price' | 'createdAt' | 'isNew' | 'contentId'> & {
  /** Raw log popularity, before standardising. */
  popRaw: Float64Array;
};

export function generateCatalog(cfg: WorldConfig, rng: Rng): Catalog {
  const { items: n, dim: d, categories: C, brands: B } = cfg;
  const r = rng.fork(1);
  const categoryNames = Array.from({ length: C }, (_, c) => CATEGORY_NAMES[c] ?? `category-${c}`);
  const brandNames = Array.from({ length: B }, (_, b) => `brand-${String(b).padStart(4, '0')}`);
  const structure = catalogStructure(C, B, d, r);
  const items = generateItems(cfg, structure, r);

  // The engine only sees the (rounded) price: standardise its logarithm.
  const lnPrice = Float64Array.from(items.price, (p) => Math.log(p));
  const lp = standardise(lnPrice);
  return {
    n,
    dim: d,
    latent: items.latent,
    embeddings: items.embeddings,
    category: items.category,
    brand: items.brand,
    price: items.price,
    logPrice: lp.values,
    logPriceMean: lp.mean,
    logPriceStd: lp.std,
    popularity: standardise(items.popRaw).values,
    createdAt: items.createdAt,
    isNew: items.isNew,
    contentId: items.contentId,
    categoryNames,
    brandNames,
    categoryCentres: structure.categoryCentres,
  };
}

/**
 * Category centres: random unit directions. Brand offsets: smaller random
 * directions; each brand sells in a home category and sometimes one more.
 */
function catalogStructure(C: number, B: number, d: number, r: Rng): CatalogStructure {
  const categoryCentres = r.normals(new Float32Array(C * d));
  for (let c = 0; c < C; c++) normalizeRow(categoryCentres, c, d);
  const brandOffsets = r.normals(new Float32Array(B * d));
  for (let b = 0; b < B; b++) normalizeRow(brandOffsets, b, d);
  const catCum = zipfCumulative(C, 1.0);
  const brandHome = Int32Array.from({ length: B }, () => r.pickCumulative(catCum));
  const brandSecond = Int32Array.from({ length: B }, () => (r.next() < 0.3 ? r.pickCumulative(catCum) : -1));
  const brandsOf: number[][] = Array.from({ length: C }, () => []);
  for (let b = 0; b < B; b++) {
    brandsOf[brandHome[b]].push(b);
    if (brandSecond[b] >= 0 && brandSecond[b] !== brandHome[b]) brandsOf[brandSecond[b]].push(b);
  }
  for (let c = 0; c < C; c++) if (brandsOf[c].length === 0) brandsOf[c].push(r.int(B));
  const brandPriceLevel = Float32Array.from({ length: B }, () => r.normal() * 0.5);
  const catPriceLevel = Float32Array.from({ length: C }, () => 3.5 + r.normal() * 0.6);
  return { categoryCentres, brandOffsets, catCum, brandsOf, brandPriceLevel, catPriceLevel };
}

/** Every item in turn: a duplicate, a near-duplicate or a new draw from its category and brand. */
function generateItems(cfg: WorldConfig, st: CatalogStructure, r: Rng): CatalogItems {
  const { items: n, dim: d } = cfg;
  const { categoryCentres, brandOffsets, catCum, brandsOf, brandPriceLevel, catPriceLevel } = st;
  const latent = new Float32Array(n * d);
  const embeddings = new Float32Array(n * d);
  const category = new Int32Array(n);
  const brand = new Int32Array(n);
  const price = new Float64Array(n);
  const logPriceRaw = new Float64Array(n);
  const popRaw = new Float64Array(n);
  const createdAt = new Float64Array(n);
  const isNew = new Uint8Array(n);
  const contentId = new Int32Array(n);
  const ref = Date.parse(cfg.referenceTime);
  const noiseScale = cfg.embeddingNoise / Math.sqrt(d);
  const g = new Float32Array(d);

  for (let i = 0; i < n; i++) {
    const u = r.next();
    const dupOf = i > 0 && u < cfg.duplicateRate ? r.int(i) : -1;
    const nearOf = dupOf < 0 && i > 0 && u < cfg.duplicateRate + cfg.nearDuplicateRate ? r.int(i) : -1;
    const src = dupOf >= 0 ? dupOf : nearOf;
    if (src >= 0) {
      category[i] = category[src];
      brand[i] = brand[src];
      logPriceRaw[i] = logPriceRaw[src];
      latent.copyWithin(i * d, src * d, (src + 1) * d);
      contentId[i] = dupOf >= 0 ? contentId[src] : i;
    } else {
      const c = r.pickCumulative(catCum);
      const bs = brandsOf[c];
      // Long tail of brands within a category too.
      const b = bs[Math.min(bs.length - 1, Math.floor(bs.length * Math.pow(r.next(), 2)))];
      category[i] = c;
      brand[i] = b;
      r.normals(g);
      for (let j = 0; j < d; j++) {
        latent[i * d + j] = categoryCentres[c * d + j] + 0.55 * brandOffsets[b * d + j] + (0.5 / Math.sqrt(d)) * g[j];
      }
      normalizeRow(latent, i, d);
      logPriceRaw[i] = catPriceLevel[c] + brandPriceLevel[b] + 0.35 * r.normal();
      contentId[i] = i;
    }
    price[i] = Math.max(0.01, Math.round(Math.exp(logPriceRaw[i]) * 100) / 100);
    // Served embedding: the latent vector plus noise (near-duplicates differ only by it).
    r.normals(g, noiseScale);
    for (let j = 0; j < d; j++) embeddings[i * d + j] = latent[i * d + j] + g[j];
    normalizeRow(embeddings, i, d);

    const fresh = r.next() < cfg.newItemRate;
    isNew[i] = fresh ? 1 : 0;
    createdAt[i] = fresh ? ref - r.next() * 7 * DAY_MS : ref - (8 + r.next() * 720) * DAY_MS;
    // Popularity: lognormal, with new items at the bottom (they have no history yet).
    popRaw[i] = fresh ? -1.5 + 0.5 * r.normal() : r.normal() * 1.0;
  }
  return { latent, embeddings, category, brand, price, createdAt, isNew, contentId, popRaw };
}

function standardise(x: Float64Array): { values: Float32Array; mean: number; std: number } {
  let m = 0;
  for (const v of x) m += v;
  m /= Math.max(1, x.length);
  let s = 0;
  for (const v of x) s += (v - m) ** 2;
  const sd = Math.sqrt(s / Math.max(1, x.length)) || 1;
  return { values: Float32Array.from(x, (v) => (v - m) / sd), mean: m, std: sd };
}
