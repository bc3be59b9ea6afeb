// Feeding the native Session from test fixtures: a .npy array as an input view, and the first
// output of an inference as floats.
#pragma once

#include <vector>

#include <gtest/gtest.h>

#include "liveweight/session.h"
#include "support/test_support.h"

namespace lw::test {

// A float32 view of `a` (which must outlive the call that reads it).
inline ArrayView view(const NpyArray& a) { return {a.bytes.data(), DType::kFloat32, a.shape, a.bytes.size()}; }

// Runs `s` on `x` and returns its first output (empty, with a test failure, on an error).
inline std::vector<float> run(Session& s, const NpyArray& x) {
  auto out = s.infer({view(x)});
  EXPECT_TRUE(out.is_ok()) << out.status().message();
  if (!out.is_ok()) return {};
  const float* p = reinterpret_cast<const float*>(out->at(0).data.get());
  return std::vector<float>(p, p + out->at(0).bytes / sizeof(float));
}

}  // namespace lw::test
