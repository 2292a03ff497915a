// IndexIVFFlat with an inverted-list scanner that uses the addon's SIMD
// distance kernels (the system libfaiss may be built without them).
#pragma once

#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexScalarQuantizer.h>

#include <memory>

namespace rank {

struct SimdIVFFlat : faiss::IndexIVFFlat {
  // Takes over `src`'s quantizer and inverted lists; `src` is left empty.
  explicit SimdIVFFlat(faiss::IndexIVFFlat* src);

  faiss::InvertedListScanner* get_InvertedListScanner(
      bool store_pairs, const faiss::IDSelector* sel) const override;

  // For large k (>= kCollectMinK) the lists are scanned into a candidate
  // buffer above a running threshold, compacted with nth_element, instead of
  // a k-element heap updated per candidate; smaller k uses FAISS's loop.
  void search_preassigned(idx_t n, const float* x, idx_t k, const idx_t* assign,
                          const float* centroid_dis, float* distances, idx_t* labels,
                          bool store_pairs, const faiss::IVFSearchParameters* params = nullptr,
                          faiss::IndexIVFStats* stats = nullptr) const override;

  // One query with a flat (IP or L2) coarse quantizer: the coarse step runs
  // on the addon's SIMD kernels too (the system libfaiss's flat search is
  // scalar), then search_preassigned. Anything else takes FAISS's path.
  void search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
              const faiss::SearchParameters* params = nullptr) const override;

  static constexpr idx_t kCollectMinK = 64;
};

// IndexIVFScalarQuantizer with half-precision codes (QT_fp16, factory
// "IVF<n>,SQfp16": half the bytes of IVFFlat per vector, widened with F16C)
// or 8-bit codes (QT_8bit, "SQ8": a quarter). Single queries
// take the SIMD coarse step, and every k the collecting top-k over the SIMD
// kernels; by residual or not, IP or L2, as FAISS's own scanner computes it.
// Other paths (range search, ...) keep FAISS's.
struct SimdIVFSQ : faiss::IndexIVFScalarQuantizer {
  // Takes over `src`'s quantizer and inverted lists; `src` is left empty.
  explicit SimdIVFSQ(faiss::IndexIVFScalarQuantizer* src);

  // The code types above, with the code size they imply.
  static bool Supports(const faiss::IndexIVFScalarQuantizer& ix);

  void search_preassigned(idx_t n, const float* x, idx_t k, const idx_t* assign,
                          const float* centroid_dis, float* distances, idx_t* labels,
                          bool store_pairs, const faiss::IVFSearchParameters* params = nullptr,
                          faiss::IndexIVFStats* stats = nullptr) const override;

  void search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
              const faiss::SearchParameters* params = nullptr) const override;
};

// If `index` is a plain IndexIVFFlat, or an IndexIVFScalarQuantizer with
// codes SimdIVFSQ supports, returns the SIMD subclass that replaces it (same lists, same
// file format); otherwise returns `index` unchanged.
std::unique_ptr<faiss::Index> WithSimdScanner(std::unique_ptr<faiss::Index> index);

}  // namespace rank
