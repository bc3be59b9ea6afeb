// Float test data for hand-built graphs: seeded random vectors, Const tensors holding them, and
// the largest elementwise difference between two results.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "core/blob.h"
#include "graph/ir.h"

namespace lw::test {

// n values drawn uniformly from [offset - scale, offset + scale), the same for the same seed.
inline std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f, float offset = 0.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = offset + d(rng);
  return v;
}

// A float32 tensor of `dims` holding a copy of `v`.
inline ir::TensorData tensor(const std::vector<float>& v, Dims dims) {
  return {DType::kFloat32, std::move(dims), Blob::copy_of(v.data(), v.size() * sizeof(float))};
}

// max |a[i] - b[i]|; a size mismatch fails the calling test.
inline float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

}  // namespace lw::test
