#include "ivf_simd.h"

#include <faiss/IndexFlat.h>
#include <faiss/invlists/DirectMap.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/Heap.h>
#include <faiss/utils/fp16.h>
#include <faiss/impl/FaissAssert.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <limits>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "simd.h"

namespace rank {
namespace {

// Distances from q to rows [0, bn) of a block of flat codes.
template <bool IsIP>
inline void BlockDistances(const float* q, const float* rows, size_t bn, size_t d, float* out) {
  if (IsIP)
    simd::DotRows(q, rows, bn, d, out);
  else
    simd::L2Rows(q, rows, bn, d, out);
}

// Scans one inverted list in blocks: distances for a block of codes come from
// the 8-row SIMD kernel, then the heap is updated. keep_max for inner product.
template <bool IsIP>
struct SimdFlatScanner : faiss::InvertedListScanner {
  size_t d;
  const float* query = nullptr;

  SimdFlatScanner(size_t dim, bool store_pairs, const faiss::IDSelector* sel)
      : faiss::InvertedListScanner(store_pairs, sel), d(dim) {
    keep_max = IsIP;
    code_size = dim * sizeof(float);
  }

  void set_query(const float* q) override { query = q; }
  void set_list(idx_t list, float) override { list_no = list; }

  float distance_to_code(const uint8_t* code) const override {
    const float* y = reinterpret_cast<const float*>(code);
    return IsIP ? simd::Dot(query, y, d) : simd::L2Sqr(query, y, d);
  }

  size_t scan_codes(size_t n, const uint8_t* codes, const idx_t* ids, float* dis,
                    idx_t* labels, size_t k) const override {
    constexpr size_t kBlock = 64;
    float buf[kBlock];
    const float* base = reinterpret_cast<const float*>(codes);
    size_t updates = 0;
    for (size_t b0 = 0; b0 < n; b0 += kBlock) {
      const size_t bn = std::min(kBlock, n - b0);
      BlockDistances<IsIP>(query, base + b0 * d, bn, d, buf);
      for (size_t j = 0; j < bn; ++j) {
        const size_t pos = b0 + j;
        if (sel && !sel->is_member(ids[pos])) continue;
        const float v = buf[j];
        const bool better = IsIP ? v > dis[0] : v < dis[0];
        if (!better) continue;
        const idx_t id = store_pairs ? idx_t(faiss::lo_build(list_no, pos)) : ids[pos];
        if (IsIP)
          faiss::minheap_replace_top(k, dis, labels, v, id);
        else
          faiss::maxheap_replace_top(k, dis, labels, v, id);
        ++updates;
      }
    }
    return updates;
  }
};

}  // namespace

namespace {

// Moves `src`'s quantizer, inverted lists and IVF settings into `dst`, a
// freshly constructed index of the same kind; `src` is left empty.
void TakeOverIVF(faiss::IndexIVF& dst, faiss::IndexIVF* src) {
  dst.own_fields = src->own_fields;
  src->own_fields = false;
  dst.replace_invlists(src->invlists, src->own_invlists);
  src->own_invlists = false;
  src->invlists = nullptr;
  dst.ntotal = src->ntotal;
  dst.is_trained = src->is_trained;
  dst.nprobe = src->nprobe;
  dst.max_codes = src->max_codes;
  dst.parallel_mode = src->parallel_mode;
  dst.metric_arg = src->metric_arg;
  dst.verbose = src->verbose;
  dst.direct_map = src->direct_map;
  dst.quantizer_trains_alone = src->quantizer_trains_alone;
  dst.cp = src->cp;
}

}  // namespace

SimdIVFFlat::SimdIVFFlat(faiss::IndexIVFFlat* src)
    : faiss::IndexIVFFlat(src->quantizer, src->d, src->nlist, src->metric_type) {
  TakeOverIVF(*this, src);
}

faiss::InvertedListScanner* SimdIVFFlat::get_InvertedListScanner(
    bool store_pairs, const faiss::IDSelector* sel) const {
  if (metric_type == faiss::METRIC_INNER_PRODUCT)
    return new SimdFlatScanner<true>(d, store_pairs, sel);
  if (metric_type == faiss::METRIC_L2) return new SimdFlatScanner<false>(d, store_pairs, sel);
  return faiss::IndexIVFFlat::get_InvertedListScanner(store_pairs, sel);
}

namespace {

// Top-k by collection: candidates better than the current threshold are
// appended; when the buffer reaches 4k (at least 1024) entries it is cut to
// the best k with nth_element and the threshold becomes the k-th value. Each
// candidate costs a compare and sometimes an append, where a heap costs
// log2(k) swaps per accepted candidate: with k = 1000 and a few thousand
// acceptances per query the heap was most of the search time.
template <bool IsIP>
struct Collector {
  struct Hit {
    float v;
    faiss::Index::idx_t id;
  };
  size_t k;
  size_t cap;
  float threshold;
  bool primed = false;
  // A per-thread buffer (fresh pages at every query cost page faults);
  // `slot` tells apart collectors alive at the same time on one thread.
  std::vector<Hit>& hits;

  static std::vector<Hit>& Buffer(int slot) {
    thread_local std::vector<Hit> buffers[2];
    return buffers[slot];
  }

  explicit Collector(size_t kk, int slot = 0)
      : k(kk), cap(std::max<size_t>(4 * kk, 1024)),
        threshold(IsIP ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity()),
        hits(Buffer(slot)) {
    hits.clear();
    hits.reserve(cap);
  }

  static bool Better(const Hit& a, const Hit& b) {
    return IsIP ? (a.v > b.v || (a.v == b.v && a.id < b.id)) : (a.v < b.v || (a.v == b.v && a.id < b.id));
  }

  bool Passes(float v) const { return IsIP ? v > threshold : v < threshold; }

  void Add(float v, faiss::Index::idx_t id) {
    hits.push_back({v, id});
    if (hits.size() == k && !primed) Prime();
    else if (hits.size() >= cap) Compact();
  }

  // The first k hits: the k-th best of everything is at least as good as
  // the worst of them, so that is a valid threshold at the cost of one pass,
  // long before the first compaction would set one.
  void Prime() {
    primed = true;
    float worst = hits[0].v;
    for (const Hit& h : hits) worst = IsIP ? std::min(worst, h.v) : std::max(worst, h.v);
    threshold = worst;
  }

  void Compact() {
    if (hits.size() <= k) return;
    std::nth_element(hits.begin(), hits.begin() + (k - 1), hits.end(), Better);
    hits.resize(k);
    threshold = hits[k - 1].v;
  }

  // Best first into out[k], padded with -1 ids.
  void Finish(float* dis, faiss::Index::idx_t* ids) {
    if (hits.size() > k) {
      std::nth_element(hits.begin(), hits.begin() + (k - 1), hits.end(), Better);
      hits.resize(k);
    }
    std::sort(hits.begin(), hits.end(), Better);
    for (size_t i = 0; i < k; ++i) {
      if (i < hits.size()) {
        dis[i] = hits[i].v;
        ids[i] = hits[i].id;
      } else {
        // As FAISS's heaps pad: the largest finite float, -1 ids.
        dis[i] = IsIP ? std::numeric_limits<float>::lowest() : std::numeric_limits<float>::max();
        ids[i] = -1;
      }
    }
  }
};

using idx_t = faiss::Index::idx_t;

// How one inverted list's codes turn into distances, block by block.
// Flat codes: float rows, compared with the query as it is.
template <bool IsIP>
struct FlatCodes {
  const float* q;
  size_t d;
  void SetList(idx_t, float) {}
  void Block(const uint8_t* codes, size_t b0, size_t bn, float* out) const {
    BlockDistances<IsIP>(q, reinterpret_cast<const float*>(codes) + b0 * d, bn, d, out);
  }
};

// QT_fp16 codes of an IndexIVFScalarQuantizer: half-precision rows. By
// residual (FAISS's default), a code is x - centroid, so as in FAISS's own
// scanners the inner product adds the query's coarse score <q, centroid>,
// and L2 compares q - centroid with the code.
template <bool IsIP>
struct F16Codes {
  const faiss::IndexIVFScalarQuantizer& ix;
  const float* q;
  size_t d;
  std::vector<float> shifted;
  const float* lq = nullptr;
  float offset = 0;

  F16Codes(const faiss::IndexIVFScalarQuantizer& index, const float* query)
      : ix(index), q(query), d(size_t(index.d)), shifted(index.by_residual && !IsIP ? d : 0), lq(query) {}

  void SetList(idx_t key, float coarse) {
    if (!ix.by_residual) return;
    if (IsIP) {
      offset = coarse;
    } else {
      ix.quantizer->compute_residual(q, shifted.data(), key);
      lq = shifted.data();
    }
  }
  void Block(const uint8_t* codes, size_t b0, size_t bn, float* out) const {
    const uint16_t* rows = reinterpret_cast<const uint16_t*>(codes) + b0 * d;
    if (IsIP)
      simd::DotRowsF16(lq, rows, bn, d, out);
    else
      simd::L2RowsF16(lq, rows, bn, d, out);
    if (offset != 0)
      for (size_t j = 0; j < bn; ++j) out[j] += offset;
  }
};

// 8-bit codes (QT_8bit, "SQ8": a range per dimension): FAISS reconstructs
// x_i = vmin_i + (c_i + 0.5) / 255 * vdiff_i. The inner product is then a
// constant plus sum_i w_i c_i with w_i = q_i vdiff_i / 255,
// so the kernel multiplies the bytes directly; L2 is sum_i (a_i - s_i c_i)^2
// with s_i = vdiff_i / 255 and a_i = q_i - vmin_i - s_i / 2. By residual,
// q is shifted by the list's centroid first (L2), or the coarse score added
// (IP), as for fp16.
template <bool IsIP>
struct U8Codes {
  const faiss::IndexIVFScalarQuantizer& ix;
  const float* q;
  size_t d;
  std::vector<float> vmin, step;  // per dimension
  std::vector<float> w;           // IP: q_i * step_i; L2: a_i for the current list
  std::vector<float> shifted;
  float base = 0;                 // IP: sum_i q_i (vmin_i + step_i / 2)
  float offset = 0;

  U8Codes(const faiss::IndexIVFScalarQuantizer& index, const float* query)
      : ix(index), q(query), d(size_t(index.d)), vmin(d), step(d), w(d), shifted(d) {
    const std::vector<float>& tr = ix.sq.trained;  // vmin[d], then vdiff[d]
    for (size_t i = 0; i < d; ++i) {
      vmin[i] = tr[i];
      step[i] = tr[d + i] / 255.0f;
    }
    if (IsIP) {
      for (size_t i = 0; i < d; ++i) {
        w[i] = q[i] * step[i];
        base += q[i] * (vmin[i] + 0.5f * step[i]);
      }
      offset = base;
    } else {
      SetShift(q);
    }
  }

  void SetShift(const float* lq) {
    for (size_t i = 0; i < d; ++i) w[i] = lq[i] - vmin[i] - 0.5f * step[i];
  }

  void SetList(idx_t key, float coarse) {
    if (!ix.by_residual) return;
    if (IsIP) {
      offset = base + coarse;
    } else {
      ix.quantizer->compute_residual(q, shifted.data(), key);
      SetShift(shifted.data());
    }
  }
  void Block(const uint8_t* codes, size_t b0, size_t bn, float* out) const {
    const uint8_t* rows = codes + b0 * d;
    if (IsIP) {
      simd::DotRowsU8(w.data(), rows, bn, d, out);
      for (size_t j = 0; j < bn; ++j) out[j] += offset;
    } else {
      simd::L2RowsU8(w.data(), step.data(), rows, bn, d, out);
    }
  }
};

// Scans inverted list `key` (coarse score `coarse`) into `top`; returns the
// number of codes compared.
template <bool IsIP, class Codes>
size_t ScanList(const faiss::IndexIVF& ix, Codes& codes, idx_t key, float coarse, const faiss::IDSelector* sel,
                bool store_pairs, Collector<IsIP>& top) {
  if (key < 0) return 0;  // fewer lists than nprobe
  const size_t n = ix.invlists->list_size(key);
  if (n == 0) return 0;
  constexpr size_t kBlock = 64;
  float buf[kBlock];
  faiss::InvertedLists::ScopedCodes scodes(ix.invlists, key);
  std::unique_ptr<faiss::InvertedLists::ScopedIds> sids;
  const idx_t* ids = nullptr;
  if (!store_pairs || sel) {
    sids.reset(new faiss::InvertedLists::ScopedIds(ix.invlists, key));
    ids = sids->get();
  }
  codes.SetList(key, coarse);
  const uint8_t* base = scodes.get();
  for (size_t b0 = 0; b0 < n; b0 += kBlock) {
    const size_t bn = std::min(kBlock, n - b0);
    codes.Block(base, b0, bn, buf);
    // Most distances miss the threshold once it is set: find the few that
    // pass with one vector compare per 8, then re-check each against the
    // threshold as it tightens.
    for (uint64_t m = simd::PassMask(buf, bn, top.threshold, IsIP); m != 0; m &= m - 1) {
      const size_t t = size_t(__builtin_ctzll(m));
      const float v = buf[t];
      if (!top.Passes(v)) continue;
      const size_t pos = b0 + t;
      if (sel && !sel->is_member(ids[pos])) continue;
      top.Add(v, store_pairs ? idx_t(faiss::lo_build(key, pos)) : ids[pos]);
    }
  }
  return n;
}

template <bool IsIP, class Codes>
size_t CollectQuery(const faiss::IndexIVF& ix, Codes& codes, size_t k, const idx_t* keys, const float* coarse,
                    size_t nprobe, const faiss::IDSelector* sel, bool store_pairs, float* dis, idx_t* labels) {
  Collector<IsIP> top(k);
  size_t ndis = 0;
  for (size_t j = 0; j < nprobe; ++j) ndis += ScanList<IsIP>(ix, codes, keys[j], coarse[j], sel, store_pairs, top);
  top.Finish(dis, labels);
  return ndis;
}

bool KnownMetric(const faiss::IndexIVF& ix) {
  return ix.metric_type == faiss::METRIC_INNER_PRODUCT || ix.metric_type == faiss::METRIC_L2;
}

// The coarse step of one query with a flat (IP or L2) coarse quantizer, on
// the addon's SIMD kernels (the system libfaiss's flat search is scalar):
// the np best lists, best first, into keys/coarse. False where that does not
// apply (another quantizer or metric).
bool ProbeOrder(const faiss::IndexIVF& ix, const float* x, size_t nprobe, std::vector<idx_t>& keys,
                std::vector<float>& coarseOut) {
  const auto* flat = dynamic_cast<const faiss::IndexFlat*>(ix.quantizer);
  if (!flat || !KnownMetric(ix) || flat->metric_type != ix.metric_type || flat->ntotal != idx_t(ix.nlist)) return false;
  const size_t nlist = ix.nlist;
  const size_t d = size_t(ix.d);
  const bool ip = ix.metric_type == faiss::METRIC_INNER_PRODUCT;
  const size_t np = std::max<size_t>(1, std::min<size_t>(nprobe, nlist));
  thread_local std::vector<float> cd;
  thread_local std::vector<uint64_t> order;
  cd.resize(nlist);
  order.resize(nlist);
  if (ip)
    simd::DotRows(x, flat->get_xb(), nlist, d, cd.data());
  else
    simd::L2Rows(x, flat->get_xb(), nlist, d, cd.data());
  // Best first, ties by list number, NaN (a NaN query) last, as one integer
  // key per list: the score's bits made monotone (ascending = best first)
  // above the list number, so selection compares plain integers.
  const float* dist = cd.data();
  for (size_t i = 0; i < nlist; ++i) {
    const float v = dist[i] == 0 ? 0.f : dist[i];  // -0 ties with +0
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    uint32_t key = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);  // ascending with v
    if (ip) key = ~key;                                                   // IP: larger first
    if (v != v) key = 0xFFFFFFFFu;
    order[i] = (uint64_t(key) << 32) | uint64_t(i);
  }
  if (np < nlist) std::nth_element(order.begin(), order.begin() + (np - 1), order.end());
  std::sort(order.begin(), order.begin() + np);
  keys.resize(np);
  coarseOut.resize(np);
  for (size_t i = 0; i < np; ++i) {
    keys[i] = idx_t(order[i] & 0xFFFFFFFFu);
    coarseOut[i] = dist[keys[i]];
  }
  return true;
}

// Each query with a flat coarse quantizer: the SIMD coarse step, then the
// index's search_preassigned, one query at a time (FAISS's own path for
// several queries takes the scalar coarse step and skips the two-pass
// scan). False where that does not apply: the caller takes FAISS's path.
bool SearchEach(const faiss::IndexIVF& ix, idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
                const faiss::SearchParameters* params_in) {
  const auto* params = dynamic_cast<const faiss::SearchParametersIVF*>(params_in);
  if (n < 1 || k <= 0 || (params_in && !params) || (params && params->quantizer_params)) return false;
  thread_local std::vector<idx_t> keys;
  thread_local std::vector<float> coarse;
  for (idx_t i = 0; i < n; ++i) {
    const float* q = x + size_t(i) * size_t(ix.d);
    if (!ProbeOrder(ix, q, params ? params->nprobe : ix.nprobe, keys, coarse)) return false;
    RefineParams local;  // nprobe as clamped: `keys` holds exactly np lists
    if (const auto* rp = dynamic_cast<const RefineParams*>(params_in)) local.refine = rp->refine;
    local.nprobe = keys.size();
    local.max_codes = params ? params->max_codes : ix.max_codes;
    local.sel = params ? params->sel : nullptr;
    ix.search_preassigned(1, q, k, keys.data(), coarse.data(), distances + size_t(i) * size_t(k), labels + size_t(i) * size_t(k), false,
                          &local, nullptr);
  }
  return true;
}

// search_preassigned over queries [0, n) with the collector; makeCodes(q)
// gives the codes reader for query q (per query: it may hold a shifted copy).
template <bool IsIP, class MakeCodes>
void CollectAll(const faiss::IndexIVF& ix, idx_t n, const float* x, idx_t k, const idx_t* assign,
                const float* centroid_dis, float* distances, idx_t* labels, bool store_pairs,
                const faiss::IVFSearchParameters* params, faiss::IndexIVFStats* stats, MakeCodes makeCodes) {
  const size_t np = params ? params->nprobe : ix.nprobe;
  const faiss::IDSelector* sel = params ? params->sel : nullptr;
  size_t ndis = 0;
#pragma omp parallel for if (n > 1) reduction(+ : ndis)
  for (idx_t i = 0; i < n; ++i) {
    auto codes = makeCodes(x + i * ix.d);
    ndis += CollectQuery<IsIP>(ix, codes, size_t(k), assign + i * np, centroid_dis + i * np, np, sel, store_pairs,
                               distances + i * k, labels + i * k);
  }
  if (stats) {
    stats->nq += size_t(n);
    stats->nlist += size_t(n) * np;
    stats->ndis += ndis;
  }
}

// CollectAll for the index's metric: makeCodes(is_ip, q), with is_ip a
// std::true_type for inner product and std::false_type for L2. False (doing
// nothing) where the collector does not apply: the caller takes FAISS's path.
template <class MakeCodes>
bool CollectForMetric(const faiss::IndexIVF& ix, idx_t n, const float* x, idx_t k, const idx_t* assign,
                      const float* centroid_dis, float* distances, idx_t* labels, bool store_pairs,
                      const faiss::IVFSearchParameters* params, faiss::IndexIVFStats* stats, MakeCodes makeCodes) {
  const size_t maxCodes = params ? params->max_codes : ix.max_codes;
  if (k <= 0 || !KnownMetric(ix) || maxCodes != 0) return false;
  if (ix.metric_type == faiss::METRIC_INNER_PRODUCT)
    CollectAll<true>(ix, n, x, k, assign, centroid_dis, distances, labels, store_pairs, params, stats,
                     [&](const float* q) { return makeCodes(std::true_type{}, q); });
  else
    CollectAll<false>(ix, n, x, k, assign, centroid_dis, distances, labels, store_pairs, params, stats,
                      [&](const float* q) { return makeCodes(std::false_type{}, q); });
  return true;
}

}  // namespace

// 8-bit copies of an fp16 IVF index's codes for the refined search's first
// pass: code value x_i (a residual when by_residual) is stored as
// u_i = round(x_i / scale_i) + 128, in [1, 255], with scale_i = max |x_i| / 127
// over the whole index, rows laid out in the 16-row blocks of
// simd::DotBlocksU8S8. L2 keeps each row's ||x||^2 (from the fp16 values).
struct Int8Shadow {
  size_t d = 0;
  size_t groups = 0;               // ceil(d / 4): 64-byte slices per block
  std::vector<float> scale;        // per dimension
  std::vector<size_t> listBlock;   // first block of each list, nlist + 1 entries
  std::vector<size_t> listSize;    // codes per list when built
  std::vector<uint8_t> blocks;
  std::vector<float> norms;        // per row slot (16 per block); L2 only

  explicit Int8Shadow(const faiss::IndexIVFScalarQuantizer& ix) : d(size_t(ix.d)), groups((d + 3) / 4) {
    const size_t nlist = ix.nlist;
    listBlock.assign(nlist + 1, 0);
    listSize.assign(nlist, 0);
    std::vector<float> maxAbs(d, 0.f);
    for (size_t l = 0; l < nlist; ++l) {
      const size_t n = ix.invlists->list_size(l);
      listSize[l] = n;
      listBlock[l + 1] = listBlock[l] + (n + simd::kBlockRows - 1) / simd::kBlockRows;
      if (n == 0) continue;
      faiss::InvertedLists::ScopedCodes codes(ix.invlists, l);
      const uint16_t* h = reinterpret_cast<const uint16_t*>(codes.get());
      for (size_t r = 0; r < n; ++r)
        for (size_t i = 0; i < d; ++i) maxAbs[i] = std::max(maxAbs[i], std::fabs(faiss::decode_fp16(h[r * d + i])));
    }
    scale.resize(d);
    for (size_t i = 0; i < d; ++i) scale[i] = maxAbs[i] > 0 && std::isfinite(maxAbs[i]) ? maxAbs[i] / 127.f : 1.f;
    const size_t blockBytes = groups * 64;
    blocks.assign(listBlock[nlist] * blockBytes, 128);
    const bool l2 = ix.metric_type == faiss::METRIC_L2;
    if (l2) norms.assign(listBlock[nlist] * simd::kBlockRows, 0.f);
    for (size_t l = 0; l < nlist; ++l) {
      const size_t n = listSize[l];
      if (n == 0) continue;
      faiss::InvertedLists::ScopedCodes codes(ix.invlists, l);
      const uint16_t* h = reinterpret_cast<const uint16_t*>(codes.get());
      for (size_t r = 0; r < n; ++r) {
        const size_t b = listBlock[l] + r / simd::kBlockRows, rr = r % simd::kBlockRows;
        uint8_t* blk = blocks.data() + b * blockBytes;
        float norm = 0;
        for (size_t i = 0; i < d; ++i) {
          const float x = faiss::decode_fp16(h[r * d + i]);
          norm += x * x;
          const float c = std::nearbyint(x / scale[i]);
          const int v = std::isfinite(c) ? int(std::max(-127.f, std::min(127.f, c))) : 0;
          blk[(i / 4) * 64 + rr * 4 + i % 4] = uint8_t(v + 128);
        }
        if (l2) norms[b * simd::kBlockRows + rr] = norm;
      }
    }
  }
};

namespace {

// The query side of the first pass: w_i = q_i * scale_i, quantized to
// sw * wq_i with |wq_i| <= 63; the approximate <q, x> of a row is then
// sw * (sum_i wq_i u_i - 128 * sum_i wq_i).
struct QuantQuery {
  std::vector<int32_t> q4;
  float sw = 1;
  int32_t bias = 0;  // 128 * sum_i wq_i

  void Set(const Int8Shadow& sh, const float* q) {
    q4.assign(sh.groups, 0);
    float m = 0;
    for (size_t i = 0; i < sh.d; ++i) m = std::max(m, std::fabs(q[i] * sh.scale[i]));
    sw = m > 0 && std::isfinite(m) ? m / 63.f : 1.f;
    int8_t* bytes = reinterpret_cast<int8_t*>(q4.data());
    int32_t sum = 0;
    for (size_t i = 0; i < sh.d; ++i) {
      const float c = std::nearbyint(q[i] * sh.scale[i] / sw);
      const int v = std::isfinite(c) ? int(std::max(-63.f, std::min(63.f, c))) : 0;
      bytes[i] = int8_t(v);
      sum += v;
    }
    bias = 128 * sum;
  }
};

// One query of the refined search (see RefineParams): the first pass over
// the 8-bit copy into `kc` candidates, then their fp16 scores and the best k.
template <bool IsIP>
size_t RefinedQuery(const faiss::IndexIVFScalarQuantizer& ix, const Int8Shadow& sh, const float* q, size_t k,
                    size_t kc, const idx_t* keys, const float* coarse, size_t nprobe, const faiss::IDSelector* sel,
                    float* dis, idx_t* labels) {
  const size_t d = sh.d;
  const size_t blockBytes = sh.groups * 64;
  constexpr size_t kChunk = 4;  // blocks per kernel call: 64 rows
  Collector<IsIP> cand(kc);
  QuantQuery qq;
  std::vector<float> lq(d);
  if (IsIP) qq.Set(sh, q);
  int32_t ibuf[kChunk * simd::kBlockRows];
  float buf[kChunk * simd::kBlockRows];
  size_t ndis = 0;
  for (size_t j = 0; j < nprobe; ++j) {
    const idx_t key = keys[j];
    if (key < 0) continue;
    const size_t n = ix.invlists->list_size(key);
    if (n == 0) continue;
    FAISS_THROW_IF_NOT_MSG(n == sh.listSize[key], "8-bit copy of the inverted lists is stale");
    ndis += n;
    std::unique_ptr<faiss::InvertedLists::ScopedIds> sids;
    if (sel) sids.reset(new faiss::InvertedLists::ScopedIds(ix.invlists, key));
    float offset = 0, qnorm = 0;
    if (IsIP) {
      if (ix.by_residual) offset = coarse[j];
    } else {
      if (ix.by_residual)
        ix.quantizer->compute_residual(q, lq.data(), key);
      else
        std::copy(q, q + d, lq.begin());
      for (size_t i = 0; i < d; ++i) qnorm += lq[i] * lq[i];
      qq.Set(sh, lq.data());
    }
    const size_t first = sh.listBlock[key];
    const size_t nb = sh.listBlock[key + 1] - first;
    // The lists lie apart in memory: start reading the next one now, as the
    // hardware prefetcher would only after a few of its lines.
    if (j + 1 < nprobe && keys[j + 1] >= 0) {
      const size_t nf = sh.listBlock[keys[j + 1]];
      const char* p = reinterpret_cast<const char*>(sh.blocks.data() + nf * blockBytes);
      const size_t bytes = (sh.listBlock[keys[j + 1] + 1] - nf) * blockBytes;
      for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o);
    }
    for (size_t c0 = 0; c0 < nb; c0 += kChunk) {
      const size_t cb = std::min(kChunk, nb - c0);
      simd::DotBlocksU8S8(sh.blocks.data() + (first + c0) * blockBytes, cb, sh.groups, qq.q4.data(), ibuf);
      const size_t r0 = c0 * simd::kBlockRows;
      const size_t bn = std::min(cb * simd::kBlockRows, n - r0);
      if (IsIP) {
        for (size_t t = 0; t < bn; ++t) buf[t] = offset + qq.sw * float(ibuf[t] - qq.bias);
      } else {
        const float* nr = sh.norms.data() + (first + c0) * simd::kBlockRows;
        for (size_t t = 0; t < bn; ++t) buf[t] = qnorm + nr[t] - 2.f * qq.sw * float(ibuf[t] - qq.bias);
      }
      for (uint64_t m = simd::PassMask(buf, bn, cand.threshold, IsIP); m != 0; m &= m - 1) {
        const size_t t = size_t(__builtin_ctzll(m));
        const float v = buf[t];
        if (!cand.Passes(v)) continue;
        const size_t pos = r0 + t;
        if (sel && !sel->is_member(sids->get()[pos])) continue;
        cand.Add(v, idx_t(faiss::lo_build(j, pos)));
      }
    }
  }
  // Second pass: the candidates' fp16 scores, list by list (by residual, the
  // query's shift or offset is the list's), in FAISS's scanner arithmetic.
  cand.Compact();  // the best kc
  thread_local std::vector<idx_t> packed;
  packed.clear();
  for (const auto& h : cand.hits) packed.push_back(h.id);
  std::sort(packed.begin(), packed.end());
  // Gather the candidates' rows and ids first, prefetching ahead: they are
  // scattered over the lists, and mostly not in cache.
  const size_t m = packed.size();
  std::vector<std::unique_ptr<faiss::InvertedLists::ScopedCodes>> held;
  std::vector<std::unique_ptr<faiss::InvertedLists::ScopedIds>> heldIds;
  // Scratch kept per thread: fresh vectors of this size would be fresh
  // pages (page faults) at every query.
  thread_local std::vector<const uint16_t*> src;
  thread_local std::vector<const idx_t*> idSrc;
  thread_local std::vector<size_t> runStart;  // candidates [runStart[r], runStart[r + 1]) are of one list
  src.resize(m);
  idSrc.resize(m);
  runStart.clear();
  for (size_t a = 0; a < m; ++a) {
    const size_t j = size_t(faiss::lo_listno(packed[a]));
    if (a == 0 || j != size_t(faiss::lo_listno(packed[a - 1]))) {
      runStart.push_back(a);
      held.emplace_back(new faiss::InvertedLists::ScopedCodes(ix.invlists, keys[j]));
      heldIds.emplace_back(new faiss::InvertedLists::ScopedIds(ix.invlists, keys[j]));
    }
    const size_t pos = size_t(faiss::lo_offset(packed[a]));
    src[a] = reinterpret_cast<const uint16_t*>(held.back()->get()) + pos * d;
    idSrc[a] = heldIds.back()->get() + pos;
  }
  runStart.push_back(m);
  constexpr size_t kAhead = 12;
  const size_t rowBytes = d * sizeof(uint16_t);
  for (size_t a = 0; a < std::min(kAhead, m); ++a) {
    for (size_t o = 0; o < rowBytes; o += 64) __builtin_prefetch(reinterpret_cast<const char*>(src[a]) + o);
    __builtin_prefetch(idSrc[a]);
  }
  thread_local std::vector<uint16_t> rows;
  thread_local std::vector<idx_t> ids;
  rows.resize(m * d);
  ids.resize(m);
  for (size_t a = 0; a < m; ++a) {
    if (a + kAhead < m) {
      for (size_t o = 0; o < rowBytes; o += 64) __builtin_prefetch(reinterpret_cast<const char*>(src[a + kAhead]) + o);
      __builtin_prefetch(idSrc[a + kAhead]);
    }
    std::memcpy(rows.data() + a * d, src[a], rowBytes);
    ids[a] = *idSrc[a];
  }
  Collector<IsIP> top(k, 1);
  F16Codes<IsIP> f16(ix, q);
  thread_local std::vector<float> out;
  out.resize(m);
  for (size_t r = 0; r + 1 < runStart.size(); ++r) {
    const size_t a = runStart[r], b = runStart[r + 1];
    const size_t j = size_t(faiss::lo_listno(packed[a]));
    f16.SetList(keys[j], coarse[j]);
    f16.Block(reinterpret_cast<const uint8_t*>(rows.data()), a, b - a, out.data() + a);
  }
  for (size_t a = 0; a < m; ++a)
    if (top.Passes(out[a])) top.Add(out[a], ids[a]);
  top.Finish(dis, labels);
  return ndis;
}

}  // namespace

void SimdIVFFlat::search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
                         const faiss::SearchParameters* params_in) const {
  if (!SearchEach(*this, n, x, k, distances, labels, params_in))
    faiss::IndexIVFFlat::search(n, x, k, distances, labels, params_in);
}

void SimdIVFFlat::search_preassigned(idx_t n, const float* x, idx_t k, const idx_t* assign,
                                     const float* centroid_dis, float* distances, idx_t* labels,
                                     bool store_pairs, const faiss::IVFSearchParameters* params,
                                     faiss::IndexIVFStats* stats) const {
  const size_t dd = size_t(d);
  auto codes = [dd](auto ip, const float* q) { return FlatCodes<decltype(ip)::value>{q, dd}; };
  if (k < kCollectMinK ||
      !CollectForMetric(*this, n, x, k, assign, centroid_dis, distances, labels, store_pairs, params, stats, codes))
    faiss::IndexIVFFlat::search_preassigned(n, x, k, assign, centroid_dis, distances, labels, store_pairs, params,
                                            stats);
}

SimdIVFSQ::SimdIVFSQ(faiss::IndexIVFScalarQuantizer* src)
    : faiss::IndexIVFScalarQuantizer(src->quantizer, src->d, src->nlist, src->sq.qtype, src->metric_type,
                                     src->by_residual) {
  sq = src->sq;
  code_size = src->code_size;
  TakeOverIVF(*this, src);
}

void SimdIVFSQ::search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
                       const faiss::SearchParameters* params_in) const {
  if (!SearchEach(*this, n, x, k, distances, labels, params_in))
    faiss::IndexIVFScalarQuantizer::search(n, x, k, distances, labels, params_in);
}

bool SimdIVFSQ::Supports(const faiss::IndexIVFScalarQuantizer& ix) {
  const size_t d = size_t(ix.d);
  switch (ix.sq.qtype) {
    case faiss::ScalarQuantizer::QT_fp16:
      return ix.code_size == 2 * d;
    case faiss::ScalarQuantizer::QT_8bit:
      return ix.code_size == d && (!ix.is_trained || ix.sq.trained.size() == 2 * d);
    default:
      return false;
  }
}

void SimdIVFSQ::search_preassigned(idx_t n, const float* x, idx_t k, const idx_t* assign,
                                   const float* centroid_dis, float* distances, idx_t* labels,
                                   bool store_pairs, const faiss::IVFSearchParameters* params,
                                   faiss::IndexIVFStats* stats) const {
  bool done = false;
  const auto* rp = dynamic_cast<const RefineParams*>(params);
  const size_t maxCodes = params ? params->max_codes : max_codes;
  if (rp != nullptr && rp->refine > 0 && k > 0 && is_trained && Supports(*this) &&
      sq.qtype == faiss::ScalarQuantizer::QT_fp16 && KnownMetric(*this) && !store_pairs && maxCodes == 0) {
    std::shared_ptr<const Int8Shadow> sh = Shadow();
    const size_t np = rp->nprobe;
    const double want = std::ceil(std::min(rp->refine, 64.0) * double(k));
    const size_t kc = std::max<size_t>(size_t(k), size_t(std::min(want, double(size_t(1) << 26))));
    const bool ip = metric_type == faiss::METRIC_INNER_PRODUCT;
    size_t ndis = 0;
#pragma omp parallel for if (n > 1) reduction(+ : ndis)
    for (idx_t i = 0; i < n; ++i) {
      const float* xi = x + i * d;
      if (ip)
        ndis += RefinedQuery<true>(*this, *sh, xi, size_t(k), kc, assign + i * np, centroid_dis + i * np, np,
                                   rp->sel, distances + i * k, labels + i * k);
      else
        ndis += RefinedQuery<false>(*this, *sh, xi, size_t(k), kc, assign + i * np, centroid_dis + i * np, np,
                                    rp->sel, distances + i * k, labels + i * k);
    }
    if (stats) {
      stats->nq += size_t(n);
      stats->nlist += size_t(n) * np;
      stats->ndis += ndis;
    }
    return;
  }
  if (is_trained && Supports(*this)) {
    if (sq.qtype == faiss::ScalarQuantizer::QT_fp16)
      done = CollectForMetric(*this, n, x, k, assign, centroid_dis, distances, labels, store_pairs, params, stats,
                              [this](auto ip, const float* q) { return F16Codes<decltype(ip)::value>(*this, q); });
    else
      done = CollectForMetric(*this, n, x, k, assign, centroid_dis, distances, labels, store_pairs, params, stats,
                              [this](auto ip, const float* q) { return U8Codes<decltype(ip)::value>(*this, q); });
  }
  if (!done)
    faiss::IndexIVFScalarQuantizer::search_preassigned(n, x, k, assign, centroid_dis, distances, labels, store_pairs,
                                                       params, stats);
}

std::shared_ptr<const Int8Shadow> SimdIVFSQ::Shadow() const {
  std::lock_guard<std::mutex> lock(shadowMu_);
  if (!shadow_ && sq.qtype == faiss::ScalarQuantizer::QT_fp16) shadow_ = std::make_shared<const Int8Shadow>(*this);
  return shadow_;
}

void SimdIVFSQ::add_core(idx_t n, const float* x, const idx_t* xids, const idx_t* precomputed_idx) {
  {
    std::lock_guard<std::mutex> lock(shadowMu_);
    shadow_.reset();
  }
  faiss::IndexIVFScalarQuantizer::add_core(n, x, xids, precomputed_idx);
}

size_t SimdIVFSQ::remove_ids(const faiss::IDSelector& sel) {
  {
    std::lock_guard<std::mutex> lock(shadowMu_);
    shadow_.reset();
  }
  return faiss::IndexIVFScalarQuantizer::remove_ids(sel);
}

void SimdIVFSQ::reset() {
  {
    std::lock_guard<std::mutex> lock(shadowMu_);
    shadow_.reset();
  }
  faiss::IndexIVFScalarQuantizer::reset();
}

std::unique_ptr<faiss::Index> WithSimdScanner(std::unique_ptr<faiss::Index> index) {
  // RANK_FAISS_SCANNER=faiss keeps FAISS's own scanner (for before/after benchmarks).
  const char* pick = std::getenv("RANK_FAISS_SCANNER");
  if (pick != nullptr && std::string(pick) == "faiss") return index;
  // Only the exact base types: IVFFlatDedup and other subclasses keep their own scanners.
  faiss::Index* raw = index.get();
  if (raw != nullptr && typeid(*raw) == typeid(faiss::IndexIVFFlat))
    return std::unique_ptr<faiss::Index>(new SimdIVFFlat(static_cast<faiss::IndexIVFFlat*>(raw)));
  if (raw != nullptr && typeid(*raw) == typeid(faiss::IndexIVFScalarQuantizer)) {
    auto* sq = static_cast<faiss::IndexIVFScalarQuantizer*>(raw);
    if (SimdIVFSQ::Supports(*sq)) return std::unique_ptr<faiss::Index>(new SimdIVFSQ(sq));
  }
  return index;
}

}  // namespace rank
