// IndexIVFFlat with an inverted-list scanner that uses the addon's SIMD
// distance kernels (the system libfaiss may be built without them).
#pragma once

#include <faiss/IndexIVFFlat.h>

#include <memory>

namespace rank {

struct SimdIVFFlat : faiss::IndexIVFFlat {
  // Takes over `src`'s quantizer and inverted lists; `src` is left empty.
  explicit SimdIVFFlat(faiss::IndexIVFFlat* src);

  faiss::InvertedListScanner* get_InvertedListScanner(
      bool store_pairs, const faiss::IDSelector* sel) const override;
};

// If `index` is a plain IndexIVFFlat, returns a SimdIVFFlat that replaces it
// (same lists, same file format); otherwise returns `index` unchanged.
std::unique_ptr<faiss::Index> WithSimdScanner(std::unique_ptr<faiss::Index> index);

}  // namespace rank
