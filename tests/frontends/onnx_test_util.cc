#include "frontends/onnx_test_util.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <unistd.h>

#include "frontends/onnx/onnx_importer.h"
#include "support/test_support.h"

namespace lw::test {

OnnxMaker::OnnxMaker(int64_t opset) {
  model_.set_ir_version(8);
  model_.set_producer_name("liveweight-test");
  auto* o = model_.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

onnx::ValueInfoProto* OnnxMaker::input(const std::string& name, const std::vector<int64_t>& dims, int32_t elem) {
  auto* in = graph().add_input();
  in->set_name(name);
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0) dim->set_dim_param("N");
    else dim->set_dim_value(d);
  }
  return in;
}

onnx::ValueInfoProto* OnnxMaker::output(const std::string& name, int32_t elem) {
  auto* out = graph().add_output();
  out->set_name(name);
  out->mutable_type()->mutable_tensor_type()->set_elem_type(elem);
  return out;
}

onnx::TensorProto* OnnxMaker::init_raw(const std::string& name, const std::vector<int64_t>& dims,
                                       const std::vector<float>& values) {
  auto* t = graph().add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return t;
}

onnx::TensorProto* OnnxMaker::init_int64(const std::string& name, const std::vector<int64_t>& dims,
                                         const std::vector<int64_t>& values) {
  auto* t = graph().add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t v : values) t->add_int64_data(v);
  return t;
}

onnx::NodeProto* OnnxMaker::node(const std::string& op, const std::vector<std::string>& inputs,
                                 const std::vector<std::string>& outputs, const std::string& name) {
  auto* n = graph().add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

std::string OnnxMaker::bytes() const { return model_.SerializeAsString(); }

void add_attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void add_attr(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void add_attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

Result<ir::Graph> import_maker(const OnnxMaker& maker) {
  std::string b = maker.bytes();
  return onnx_import::import_onnx_bytes(b.data(), b.size());
}

std::string test_model_dir(const std::string& model) {
  namespace fs = std::filesystem;
  static std::once_flag once;
  const fs::path root = test_models_dir();
  std::call_once(once, [&] {
    if (fs::exists(root / "mlp_opset11" / "weights.json")) return;
    // Generate into a private folder and rename it into place, so that test processes
    // running side by side never see a half-written folder.
    fs::path tmp = root.string() + ".tmp" + std::to_string(::getpid());
    std::string cmd = "/usr/bin/python3 '" + std::string(LW_SOURCE_DIR) + "/tests/models/make_test_models.py' '" +
                      tmp.string() + "' >/dev/null";
    int rc = std::system(cmd.c_str());
    ASSERT_EQ(rc, 0) << "generating the test models failed: " << cmd;
    std::error_code ec;
    fs::rename(tmp, root, ec);
    if (ec) fs::remove_all(tmp, ec);  // another process got there first
  });
  return (root / model).string();
}

const ir::Node* producer_of(const ir::Graph& g, const std::string& value_name) {
  ir::ValueId v = g.find_value(value_name);
  if (v == ir::kNoValue || g.value(v).producer < 0) return nullptr;
  return &g.nodes[static_cast<size_t>(g.value(v).producer)];
}

std::vector<std::string> op_sequence(const ir::Graph& g) {
  std::vector<std::string> ops;
  for (const auto& n : g.nodes)
    if (n.op != ir::kOpData && n.op != ir::kOpConst) ops.push_back(n.op);
  return ops;
}

std::vector<int64_t> const_ints(const ir::Graph& g, ir::ValueId v) {
  if (!g.valid_value(v) || g.value(v).producer < 0) {
    ADD_FAILURE() << "value " << v << " has no producer";
    return {};
  }
  const ir::Node& n = g.nodes[static_cast<size_t>(g.value(v).producer)];
  const ir::TensorData* t = n.attr_tensor("value");
  if (n.op != ir::kOpConst || !t) {
    ADD_FAILURE() << "'" << g.value(v).name << "' is produced by a " << n.op << ", not a Const";
    return {};
  }
  auto ints = ir::tensor_to_ints(*t);
  EXPECT_TRUE(ints.is_ok()) << ints.status().message();
  return ints.is_ok() ? *ints : std::vector<int64_t>{};
}

}  // namespace lw::test
