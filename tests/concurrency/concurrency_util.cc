#include "concurrency/concurrency_util.h"

#include <gtest/gtest.h>

#include <random>

namespace lw::test {

AffineModel make_affine_model() {
  AffineModel m;
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> small(-2, 2), weight(-4, 4), bias(-50, 50);
  for (int64_t k = 0; k < AffineModel::kK; ++k) m.x.push_back(static_cast<float>(small(rng)));
  m.x[0] = 1.f;  // W's first row reaches the output unchanged
  for (int s = 0; s < 3; ++s) {
    std::vector<float> w, b;
    for (int64_t i = 0; i < AffineModel::kK * AffineModel::kM; ++i) w.push_back(static_cast<float>(weight(rng)));
    // Every output element of every set differs from the other sets', for W's part and B's.
    for (int64_t j = 0; j < AffineModel::kM; ++j) {
      w[static_cast<size_t>(j)] = static_cast<float>(1000 * s);
      b.push_back(static_cast<float>(bias(rng) + 10000 * s));
    }
    m.w.push_back(std::move(w));
    m.b.push_back(std::move(b));
  }
  Graph g("affine");
  Tensor x = g.add_input("x", DType::kFloat32, {1, AffineModel::kK});
  Tensor wt = g.add_constant("W", DType::kFloat32, {AffineModel::kK, AffineModel::kM}, m.w[0].data(),
                             m.w[0].size() * sizeof(float));
  Tensor bt = g.add_constant("B", DType::kFloat32, {AffineModel::kM}, m.b[0].data(), m.b[0].size() * sizeof(float));
  Tensor y = g.add_op("MatMul", {x, wt})[0];
  g.set_outputs({g.add_op("Add", {y, bt})[0]});
  auto graphs = convert_to_weight_refreshable(g, {"W", "B"});
  EXPECT_TRUE(graphs.is_ok()) << graphs.status().message();
  if (!graphs.is_ok()) return m;
  auto bytes = build_bundle({graphs->infer, graphs->init, graphs->update});
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
  if (bytes.is_ok()) m.bundle = std::move(*bytes);
  return m;
}

std::vector<float> affine_reference(const AffineModel& m, int ws, int bs) {
  std::vector<float> y(static_cast<size_t>(AffineModel::kM));
  for (int64_t j = 0; j < AffineModel::kM; ++j) {
    double acc = 0;
    for (int64_t k = 0; k < AffineModel::kK; ++k)
      acc += static_cast<double>(m.x[static_cast<size_t>(k)]) *
             m.w[static_cast<size_t>(ws)][static_cast<size_t>(k * AffineModel::kM + j)];
    y[static_cast<size_t>(j)] = static_cast<float>(acc + m.b[static_cast<size_t>(bs)][static_cast<size_t>(j)]);
  }
  return y;
}

std::vector<float> first_output(const std::vector<Array>& outputs) {
  if (outputs.empty()) return {};
  const float* p = reinterpret_cast<const float*>(outputs[0].data.get());
  return std::vector<float>(p, p + outputs[0].bytes / sizeof(float));
}

}  // namespace lw::test
