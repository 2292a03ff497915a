// Top-k selection over a score vector, shared by the HAP router and callers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace rank {

// Positions of the k largest scores, best first; ties go to the lower
// position (-0 and +0 tie). Scores must not be NaN.
//
// Each candidate becomes one 64-bit key, the score's bits mapped to an
// unsigned order (descending) above the position (ascending), so selection
// and sorting compare plain integers instead of chasing positions into the
// score array.
inline void TopKPositions(const float* scores, size_t n, size_t k, std::vector<int32_t>& out) {
  k = std::min(k, n);
  // The key buffer of the usual sizes (candidate lists) is kept per thread;
  // a larger one (a whole catalog) is freed after the call.
  constexpr size_t kKeep = size_t(1) << 16;
  thread_local std::vector<uint64_t> kept;
  std::vector<uint64_t> once;
  std::vector<uint64_t>& keys = n <= kKeep ? kept : once;
  keys.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float f = scores[i] == 0.0f ? 0.0f : scores[i];
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    // Ascending in the float's value: flip all bits of negatives, the sign
    // bit of the rest; then complement for best (largest) first.
    const uint32_t asc = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    keys[i] = (uint64_t(~asc) << 32) | uint64_t(uint32_t(i));
  }
  if (k < n) std::nth_element(keys.begin(), keys.begin() + k, keys.end());
  std::sort(keys.begin(), keys.begin() + k);
  out.resize(k);
  for (size_t i = 0; i < k; ++i) out[i] = int32_t(uint32_t(keys[i]));
}

}  // namespace rank
