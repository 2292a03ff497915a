#include "ivf_simd.h"

#include <faiss/invlists/DirectMap.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/Heap.h>

#include <cstdlib>
#include <string>
#include <typeinfo>

#include "simd.h"

namespace rank {
namespace {

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
      if (IsIP)
        simd::DotRows(query, base + b0 * d, bn, d, buf);
      else
        simd::L2Rows(query, base + b0 * d, bn, d, buf);
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
