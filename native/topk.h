// Top-k selection over a score vector, shared by the HAP router and callers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace rank {

// Positions of the k largest scores, best first; ties go to the lower position.
inline void TopKPositions(const float* scores, size_t n, size_t k, std::vector<int32_t>& out) {
  k = std::min(k, n);
  out.resize(n);
  for (size_t i = 0; i < n; ++i) out[i] = int32_t(i);
  auto better = [scores](int32_t a, int32_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  };
  if (k < n) std::nth_element(out.begin(), out.begin() + k, out.end(), better);
  out.resize(k);
  std::sort(out.begin(), out.end(), better);
}

}  // namespace rank
