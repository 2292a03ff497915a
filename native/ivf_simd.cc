#include "ivf_simd.h"

#include <faiss/IndexFlat.h>
#include <faiss/invlists/DirectMap.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/Heap.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>
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
// the 4-row SIMD kernel, then the heap is updated. keep_max for inner product.
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

SimdIVFFlat::SimdIVFFlat(faiss::IndexIVFFlat* src)
    : faiss::IndexIVFFlat(src->quantizer, src->d, src->nlist, src->metric_type) {
  own_fields = src->own_fields;
  src->own_fields = false;
  replace_invlists(src->invlists, src->own_invlists);
  src->own_invlists = false;
  src->invlists = nullptr;
  ntotal = src->ntotal;
  is_trained = src->is_trained;
  nprobe = src->nprobe;
  max_codes = src->max_codes;
  parallel_mode = src->parallel_mode;
  metric_arg = src->metric_arg;
  verbose = src->verbose;
  direct_map = src->direct_map;
  quantizer_trains_alone = src->quantizer_trains_alone;
  cp = src->cp;
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

  // Best first into out[k], padded with -1 / the worst value.
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
        dis[i] = IsIP ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
        ids[i] = -1;
      }
    }
  }
};

using idx_t = faiss::Index::idx_t;

template <bool IsIP>
size_t CollectQuery(const SimdIVFFlat& ix, const float* q, size_t k, const idx_t* keys, size_t nprobe,
                    const faiss::IDSelector* sel, bool store_pairs, float* dis, idx_t* labels) {
  Collector<IsIP> top(k);
  constexpr size_t kBlock = 64;
  float buf[kBlock];
  size_t ndis = 0;
  const size_t d = ix.d;
  for (size_t j = 0; j < nprobe; ++j) {
    const idx_t key = keys[j];
    if (key < 0) continue;  // fewer lists than nprobe
    const size_t n = ix.invlists->list_size(key);
    if (n == 0) continue;
    faiss::InvertedLists::ScopedCodes scodes(ix.invlists, key);
    std::unique_ptr<faiss::InvertedLists::ScopedIds> sids;
    const idx_t* ids = nullptr;
    if (!store_pairs || sel) {
      sids.reset(new faiss::InvertedLists::ScopedIds(ix.invlists, key));
      ids = sids->get();
    }
    const float* base = reinterpret_cast<const float*>(scodes.get());
    for (size_t b0 = 0; b0 < n; b0 += kBlock) {
      const size_t bn = std::min(kBlock, n - b0);
      BlockDistances<IsIP>(q, base + b0 * d, bn, d, buf);
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
    ndis += n;
  }
  top.Finish(dis, labels);
  return ndis;
}

}  // namespace

void SimdIVFFlat::search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
                         const faiss::SearchParameters* params_in) const {
  const auto* params = dynamic_cast<const faiss::SearchParametersIVF*>(params_in);
  const auto* flat = dynamic_cast<const faiss::IndexFlat*>(quantizer);
  const bool known = metric_type == faiss::METRIC_INNER_PRODUCT || metric_type == faiss::METRIC_L2;
  if (n != 1 || k <= 0 || !flat || !known || flat->metric_type != metric_type || flat->ntotal != idx_t(nlist) ||
      (params_in && !params) || (params && params->quantizer_params)) {
    faiss::IndexIVFFlat::search(n, x, k, distances, labels, params_in);
    return;
  }
  const bool ip = metric_type == faiss::METRIC_INNER_PRODUCT;
  const size_t np = std::max<size_t>(1, std::min<size_t>(params ? params->nprobe : nprobe, nlist));
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
  thread_local std::vector<float> coarse;
  coarse.resize(np);
  for (size_t i = 0; i < np; ++i) coarse[i] = dist[order[i]];
  faiss::SearchParametersIVF local;  // nprobe as clamped above: `order` holds exactly np lists
  local.nprobe = np;
  local.max_codes = params ? params->max_codes : max_codes;
  local.sel = params ? params->sel : nullptr;
  search_preassigned(1, x, k, order.data(), coarse.data(), distances, labels, false, &local, nullptr);
}

void SimdIVFFlat::search_preassigned(idx_t n, const float* x, idx_t k, const idx_t* assign,
                                     const float* centroid_dis, float* distances, idx_t* labels,
                                     bool store_pairs, const faiss::IVFSearchParameters* params,
                                     faiss::IndexIVFStats* stats) const {
  const bool known = metric_type == faiss::METRIC_INNER_PRODUCT || metric_type == faiss::METRIC_L2;
  const size_t maxCodes = params ? params->max_codes : max_codes;
  if (k < kCollectMinK || !known || maxCodes != 0) {
    faiss::IndexIVFFlat::search_preassigned(n, x, k, assign, centroid_dis, distances, labels,
                                            store_pairs, params, stats);
    return;
  }
  const size_t np = params ? params->nprobe : nprobe;
  const faiss::IDSelector* sel = params ? params->sel : nullptr;
  size_t ndis = 0;
#pragma omp parallel for if (n > 1) reduction(+ : ndis)
  for (idx_t i = 0; i < n; ++i) {
    const float* q = x + i * d;
    const idx_t* keys = assign + i * np;
    float* dis = distances + i * k;
    idx_t* lab = labels + i * k;
    ndis += metric_type == faiss::METRIC_INNER_PRODUCT
                ? CollectQuery<true>(*this, q, size_t(k), keys, np, sel, store_pairs, dis, lab)
                : CollectQuery<false>(*this, q, size_t(k), keys, np, sel, store_pairs, dis, lab);
  }
  if (stats) {
    stats->nq += size_t(n);
    stats->nlist += size_t(n) * np;
    stats->ndis += ndis;
  }
}

std::unique_ptr<faiss::Index> WithSimdScanner(std::unique_ptr<faiss::Index> index) {
  // RANK_FAISS_SCANNER=faiss keeps FAISS's own scanner (for before/after benchmarks).
  const char* pick = std::getenv("RANK_FAISS_SCANNER");
  if (pick != nullptr && std::string(pick) == "faiss") return index;
  auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(index.get());
  // Only the exact base type: IVFFlatDedup and other subclasses keep their own scanners.
  if (ivf == nullptr || typeid(*ivf) != typeid(faiss::IndexIVFFlat)) return index;
  return std::unique_ptr<faiss::Index>(new SimdIVFFlat(ivf));
}

}  // namespace rank
