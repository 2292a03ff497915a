// IndexIVFFlat with an inverted-list scanner that uses the addon's SIMD
// distance kernels (the system libfaiss may be built without them).
#pragma once

#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexScalarQuantizer.h>

#include <memory>
#include <mutex>

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

// Search parameters of an IVF index with a two-pass option: refine > 0 on a
// SimdIVFSQ with half-precision codes scans 8-bit copies of the codes
// (integer dot products), keeps the best ceil(refine * k) candidates by that
// approximate score, re-scores them from the half-precision codes and
// returns the best k of those. The returned scores are the half-precision
// ones; the returned set may miss items the one-pass search finds (where
// the approximate pass drops them), so recall is for the caller to measure.
// Ignored (one pass) by every other index.
struct RefineParams : faiss::SearchParametersIVF {
  double refine = 0;  // 0: one pass; else >= 1
};

struct Int8Shadow;

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

  // Changes to the lists drop the 8-bit copy (rebuilt at the next refined search).
  void add_core(idx_t n, const float* x, const idx_t* xids, const idx_t* precomputed_idx) override;
  size_t remove_ids(const faiss::IDSelector& sel) override;
  void reset() override;

  // The 8-bit copy of the lists, built on first use (null for codes other than fp16).
  std::shared_ptr<const Int8Shadow> Shadow() const;

 private:
  mutable std::mutex shadowMu_;
  mutable std::shared_ptr<const Int8Shadow> shadow_;
};

// If `index` is a plain IndexIVFFlat, or an IndexIVFScalarQuantizer with
// codes SimdIVFSQ supports, returns the SIMD subclass that replaces it (same lists, same
// file format); otherwise returns `index` unchanged.
std::unique_ptr<faiss::Index> WithSimdScanner(std::unique_ptr<faiss::Index> index);

}  // namespace rank
