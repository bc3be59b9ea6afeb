// Hand-built models shared by the format tests.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/bundle_model.h"

namespace lw::test {

// A bundle with three graphs (inference, weight-update, weight-init) sharing Variable "w_var",
// every attribute kind, several dtypes, dynamic and unknown-rank values, Assign nodes, an
// empty tensor, and two Const nodes that share one Blob.
ir::BundleModel make_sample_bundle();

// A Blob holding a copy of `values`.
template <typename T>
Blob blob_of(const std::vector<T>& values) {
  return Blob::copy_of(values.data(), values.size() * sizeof(T));
}

// Adds a googletest failure for every field where the two models differ (tensor bytes
// included). Producers of values are compared too.
void expect_models_equal(const ir::BundleModel& a, const ir::BundleModel& b);

}  // namespace lw::test
