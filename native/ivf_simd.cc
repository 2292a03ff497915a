#include "ivf_simd.h"

#include <faiss/IndexFlat.h>
#include <faiss/invlists/DirectMap.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/Heap.h>

#include <algorithm>
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
  std::vector<Hit> hits;

  explicit Collector(size_t kk)
      : k(kk), cap(std::max<size_t>(4 * kk, 1024)),
        threshold(IsIP ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity()) {
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
  thread_local std::vector<idx_t> order;
  cd.resize(nlist);
  order.resize(nlist);
  if (ip)
    simd::DotRows(x, flat->get_xb(), nlist, d, cd.data());
  else
    simd::L2Rows(x, flat->get_xb(), nlist, d, cd.data());
  for (size_t i = 0; i < nlist; ++i) order[i] = idx_t(i);
  const float* dist = cd.data();
  // Best first, ties by list number; NaN (a NaN query) sorts last.
  auto better = [dist, ip](idx_t a, idx_t b) {
    const float va = dist[a], vb = dist[b];
    if (va == vb || (va != va && vb != vb)) return a < b;
    if (va != va) return false;
    if (vb != vb) return true;
    return ip ? va > vb : va < vb;
  };
  if (np < nlist) std::nth_element(order.begin(), order.begin() + (np - 1), order.end(), better);
  std::sort(order.begin(), order.begin() + np, better);
  keys.assign(order.begin(), order.begin() + np);
  coarseOut.resize(np);
  for (size_t i = 0; i < np; ++i) coarseOut[i] = dist[keys[i]];
  return true;
}

// One query with a flat coarse quantizer: the SIMD coarse step, then the
// index's search_preassigned. False where that does not apply: the caller
// takes FAISS's path.
bool SearchOne(const faiss::IndexIVF& ix, idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
               const faiss::SearchParameters* params_in) {
  const auto* params = dynamic_cast<const faiss::SearchParametersIVF*>(params_in);
  if (n != 1 || k <= 0 || (params_in && !params) || (params && params->quantizer_params)) return false;
  thread_local std::vector<idx_t> keys;
  thread_local std::vector<float> coarse;
  if (!ProbeOrder(ix, x, params ? params->nprobe : ix.nprobe, keys, coarse)) return false;
  faiss::SearchParametersIVF local;  // nprobe as clamped: `keys` holds exactly np lists
  local.nprobe = keys.size();
  local.max_codes = params ? params->max_codes : ix.max_codes;
  local.sel = params ? params->sel : nullptr;
  ix.search_preassigned(1, x, k, keys.data(), coarse.data(), distances, labels, false, &local, nullptr);
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

void SimdIVFFlat::search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
                         const faiss::SearchParameters* params_in) const {
  if (!SearchOne(*this, n, x, k, distances, labels, params_in))
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
  if (!SearchOne(*this, n, x, k, distances, labels, params_in))
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
