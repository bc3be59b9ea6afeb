// Small bundles for the concurrency tests, built with the native graph API, and their naive
// references.
#pragma once

#include <cstdint>
#include <vector>

#include "liveweight/build.h"
#include "liveweight/graph.h"
#include "liveweight/session.h"

namespace lw::test {

// y = MatMul(x, W) + B with x [1, K], W [K, M], B [M]; W and B refreshable. Integer-valued
// floats keep every sum exact, so outputs are compared bit for bit.
struct AffineModel {
  static constexpr int64_t kK = 64, kM = 64;
  std::vector<float> x;
  // Weight set s (0, 1, 2): W and B; set 0 is the bundle's initial constants.
  std::vector<std::vector<float>> w, b;
  std::vector<uint8_t> bundle;
};
AffineModel make_affine_model();
// The naive reference for weight sets (ws, bs).
std::vector<float> affine_reference(const AffineModel& m, int ws, int bs);

inline ArrayView f32_view(const std::vector<float>& v, std::vector<int64_t> dims) {
  return {v.data(), DType::kFloat32, std::move(dims), v.size() * sizeof(float)};
}
std::vector<float> first_output(const std::vector<Array>& outputs);

}  // namespace lw::test
