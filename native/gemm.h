// Y += X W^T for the small dense layers of the rankers, with W packed once.
//
// A ranker's layers are a few hundred wide and score a few hundred rows per
// call. For such shapes a general sgemm spends a large part of each call
// repacking the weight matrix, which never changes; in the cascade the
// repacking also runs on cold caches. PackedWeights rearranges W once, at
// model load, into 16-column panels (panel p holds W[16p + c][k] at
// [k][c], zero past the last column), and MultiplyAdd streams rows of X
// against them with a 6 x 16 AVX2+FMA register tile (12 accumulators, two
// panel loads and six broadcasts per step of k). X is read in place: no copy
// of the activations either.
//
// Available() is false on CPUs without AVX2 and FMA, and when the
// environment sets RANK_DCN_GEMM=blas (the before/after baseline); callers
// then use cblas_sgemm.
#pragma once

#include <cstddef>
#include <vector>

namespace rank {
namespace gemm {

bool Available();

class PackedWeights {
 public:
  // w: [out, in] row-major with row stride ldw (>= in).
  void Pack(const float* w, size_t ldw, int in, int out);
  bool empty() const { return panels_.empty(); }
  int in() const { return in_; }
  int out() const { return out_; }

  // y[r * ldy + c] += sum_k x[r * ldx + k] * W[c][k] for r < rows, c < out.
  void MultiplyAdd(const float* x, size_t ldx, int rows, float* y, size_t ldy) const;

 private:
  int in_ = 0, out_ = 0;
  std::vector<float> panels_;  // ceil(out / 16) x in x 16
};

}  // namespace gemm
}  // namespace rank
