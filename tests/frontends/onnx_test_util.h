// Helpers for the ONNX importer tests: a small builder of ONNX ModelProtos, and access to the
// torch-exported models of tests/models/make_test_models.py.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "frontends/onnx/onnx_proto.h"
#include "graph/ir.h"

namespace lw::test {

// Builds a ModelProto field by field; every call returns the proto piece it added so a test
// can corrupt it.
class OnnxMaker {
 public:
  explicit OnnxMaker(int64_t opset);
  onnx::ModelProto& model() { return model_; }
  const onnx::ModelProto& model() const { return model_; }
  onnx::GraphProto& graph() { return *model_.mutable_graph(); }

  // Dims < 0 become dim_param "N".
  onnx::ValueInfoProto* input(const std::string& name, const std::vector<int64_t>& dims,
                              int32_t elem = onnx::TensorProto::FLOAT);
  onnx::ValueInfoProto* output(const std::string& name, int32_t elem = onnx::TensorProto::FLOAT);
  onnx::TensorProto* init_raw(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<float>& values);
  onnx::TensorProto* init_int64(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<int64_t>& values);
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "");
  std::string bytes() const;

 private:
  onnx::ModelProto model_;
};

void add_attr(onnx::NodeProto* n, const std::string& name, int64_t v);
void add_attr(onnx::NodeProto* n, const std::string& name, float v);
void add_attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v);

// Imports `maker`'s model through import_onnx_bytes.
Result<ir::Graph> import_maker(const OnnxMaker& maker);

// Folder of one generated test model ("mlp", "cnn_bn", "mlp_opset11"). Generates all of them
// when the CTest fixture has not (running the test binary alone).
std::string test_model_dir(const std::string& model);

// Helpers over an imported graph.
const ir::Node* producer_of(const ir::Graph& g, const std::string& value_name);
std::vector<std::string> op_sequence(const ir::Graph& g);  // ops other than Data and Const
std::vector<int64_t> const_ints(const ir::Graph& g, ir::ValueId v);  // fails the test if not a Const

}  // namespace lw::test
