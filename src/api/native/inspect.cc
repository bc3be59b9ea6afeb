#include "liveweight/inspect.h"

#include <nlohmann/json.hpp>

#include "format/bundle_io.h"

namespace lw {

namespace {
TensorSummary summarize(const ir::Value& v) {
  return {v.name, v.dtype, v.shape.rank_known(), v.shape.dims()};
}

nlohmann::json tensor_json(const TensorSummary& t) {
  nlohmann::json j;
  j["name"] = t.name;
  j["dtype"] = dtype_name(t.dtype);
  if (t.rank_known) {
    j["dims"] = t.dims;
  } else {
    j["dims"] = nullptr;  // unknown rank
  }
  return j;
}
}  // namespace

Result<ModelSummary> inspect_model_file(const std::string& path) {
  LW_ASSIGN_OR_RETURN(Blob file, format::map_file(path));
  auto model = format::read_bundle(file);
  if (!model.is_ok()) return model.status().with_context("'" + path + "': ");
  ModelSummary s;
  s.is_bundle = model->is_bundle;
  s.producer = model->producer;
  s.file_bytes = file.size;
  s.weights_version = model->weights_version;
  for (size_t i = 0; i < model->graphs.size(); ++i) {
    const ir::GraphEntry& e = model->graphs[i];
    GraphSummary g;
    g.index = i;
    g.role = ir::graph_role_name(e.role);
    g.name = e.graph.name;
    g.node_count = e.graph.nodes.size();
    for (ir::ValueId v : e.graph.inputs) g.inputs.push_back(summarize(e.graph.value(v)));
    for (ir::ValueId v : e.graph.outputs) g.outputs.push_back(summarize(e.graph.value(v)));
    s.graphs.push_back(std::move(g));
  }
  for (const ir::VariableDesc& v : model->variables) {
    auto bytes = byte_size(v.dtype, v.dims);
    s.variables.push_back({v.name, v.source, v.dtype, v.dims, v.update_input, bytes.is_ok() ? *bytes : 0});
  }
  return s;
}

std::string summary_to_json(const ModelSummary& s) {
  nlohmann::json j;
  j["kind"] = s.is_bundle ? "bundle" : "model";
  j["producer"] = s.producer;
  j["file_bytes"] = s.file_bytes;
  j["weights_version"] = s.weights_version;
  j["graphs"] = nlohmann::json::array();
  for (const auto& g : s.graphs) {
    nlohmann::json jg;
    jg["index"] = g.index;
    jg["role"] = g.role;
    jg["name"] = g.name;
    jg["nodes"] = g.node_count;
    jg["inputs"] = nlohmann::json::array();
    for (const auto& t : g.inputs) jg["inputs"].push_back(tensor_json(t));
    jg["outputs"] = nlohmann::json::array();
    for (const auto& t : g.outputs) jg["outputs"].push_back(tensor_json(t));
    j["graphs"].push_back(jg);
  }
  j["variables"] = nlohmann::json::array();
  for (const auto& v : s.variables) {
    nlohmann::json jv;
    jv["name"] = v.name;
    jv["source"] = v.source;
    jv["dtype"] = dtype_name(v.dtype);
    jv["dims"] = v.dims;
    jv["update_input"] = v.update_input;
    jv["bytes"] = v.bytes;
    j["variables"].push_back(jv);
  }
  return j.dump(2);
}

}  // namespace lw
