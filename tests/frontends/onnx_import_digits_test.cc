// The committed demo model (examples/models, written by make_digits_model.py) imports, and its
// weights-B files match the initializers they replace.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

#include "frontends/onnx/onnx_importer.h"
#include "frontends/onnx_test_util.h"
#include "support/test_support.h"

namespace lw::test {
namespace {

TEST(DigitsDemoModel, ImportsWithFixedBatchAndMatchingWeightFiles) {
  const std::string dir = std::string(LW_SOURCE_DIR) + "/examples/models";
  auto g = onnx_import::import_onnx_file(dir + "/digits.onnx");
  ASSERT_TRUE(g.is_ok()) << g.status().message();
  ASSERT_EQ(g->inputs.size(), 1u);
  EXPECT_EQ(g->value(g->inputs[0]).name, "image");
  EXPECT_EQ(g->value(g->inputs[0]).shape, Shape(Dims{64, 64}));
  ASSERT_EQ(g->outputs.size(), 1u);
  EXPECT_EQ(g->value(g->outputs[0]).name, "logits");
  EXPECT_EQ(g->value(g->outputs[0]).shape, Shape(Dims{64, 10}));
  EXPECT_EQ(op_sequence(*g), (std::vector<std::string>{"Gemm", "Relu", "Gemm", "Relu", "Gemm"}));

  std::ifstream mf(dir + "/digits_b/manifest.json");
  auto manifest = nlohmann::json::parse(mf, nullptr, false);
  ASSERT_TRUE(manifest.is_array());
  size_t float_consts = 0;
  for (const auto& n : g->nodes)
    if (n.op == ir::kOpConst && n.attr_tensor("value")->dtype == DType::kFloat32) ++float_consts;
  EXPECT_EQ(manifest.size(), float_consts);
  for (const auto& e : manifest) {
    const std::string name = e["name"].get<std::string>();
    const ir::Node* c = producer_of(*g, name);
    ASSERT_NE(c, nullptr) << name;
    ASSERT_EQ(c->op, ir::kOpConst) << name;
    const ir::TensorData* t = c->attr_tensor("value");
    EXPECT_EQ(t->dims, e["shape"].get<Dims>()) << name;
    std::vector<uint8_t> b = read_file_bytes(dir + "/digits_b/" + e["file"].get<std::string>());
    ASSERT_EQ(b.size(), t->bytes.size) << name;
    EXPECT_NE(std::memcmp(b.data(), t->bytes.data, b.size()), 0) << name << ": weights B equal weights A";
  }

  std::ifstream tf(dir + "/digits_test.json");
  auto info = nlohmann::json::parse(tf, nullptr, false);
  ASSERT_TRUE(info.is_object());
  const int64_t padded = info["padded_count"].get<int64_t>();
  EXPECT_EQ(info["batch"].get<int64_t>(), 64);
  EXPECT_EQ(padded % 64, 0);
  EXPECT_GE(padded, info["count"].get<int64_t>());
  EXPECT_EQ(read_file_bytes(dir + "/digits_test_x.bin").size(), static_cast<size_t>(padded * 64 * 4));
  EXPECT_EQ(read_file_bytes(dir + "/digits_test_y.bin").size(), static_cast<size_t>(padded * 4));
}

}  // namespace
}  // namespace lw::test
