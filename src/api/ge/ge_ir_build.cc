#include "ge/ge_ir_build.h"

#include <atomic>
#include <cstdlib>

#include "core/error_text.h"
#include "core/log.h"
#include "format/bundle_header.h"
#include "liveweight/build.h"

namespace ge {

namespace {
std::atomic<bool> g_initialized{false};

graphStatus fail(graphStatus code, const std::string& function, const std::string& text) {
  std::string message = function + ": " + text;
  lw::log(lw::LogLevel::kError, message);
  lw::set_recent_error(message);
  return code;
}

graphStatus fail(const char* function, const lw::Status& status) {
  graphStatus code = status.code() == lw::StatusCode::kInvalidArgument ? GRAPH_PARAM_INVALID : GRAPH_FAILED;
  return fail(code, function, status.message());
}

graphStatus to_buffer(const std::vector<uint8_t>& bytes, ModelBufferData& model) {
  std::shared_ptr<uint8_t> data(new (std::nothrow) uint8_t[bytes.size()], std::default_delete<uint8_t[]>());
  if (!data) return fail(GRAPH_FAILED, "aclgrphBuildModel", "cannot allocate the model buffer");
  std::memcpy(data.get(), bytes.data(), bytes.size());
  model.data = std::move(data);
  model.length = bytes.size();
  return GRAPH_SUCCESS;
}

// Reads the model kind from a serialized buffer: 1 bundle, 0 plain, -1 not a model.
int model_kind(const ModelBufferData& model) {
  if (!model.data) return -1;
  auto header = lw::format::decode_header(model.data.get(), model.length);
  if (!header.is_ok()) return -1;
  return (header->flags & lw::format::kFlagIsBundle) ? 1 : 0;
}

graphStatus save(const char* function, const char* output_file, const ModelBufferData& model, bool want_bundle) {
  if (!output_file || !*output_file) return fail(GRAPH_PARAM_INVALID, function, "output_file is NULL or empty");
  int kind = model_kind(model);
  if (kind < 0) return fail(GRAPH_PARAM_INVALID, function, "the model buffer is empty or not a liveweight model");
  if (want_bundle && kind == 0)
    return fail(GRAPH_PARAM_INVALID, function, "the buffer holds a plain model: save it with aclgrphSaveModel");
  if (!want_bundle && kind == 1)
    return fail(GRAPH_PARAM_INVALID, function, "the buffer holds a bundle: save it with aclgrphBundleSaveModel");
  std::vector<uint8_t> bytes(model.data.get(), model.data.get() + model.length);
  lw::Status st = lw::write_file(std::string(output_file) + ".om", bytes);
  if (!st.is_ok()) return fail(function, st);
  return GRAPH_SUCCESS;
}
}  // namespace

graphStatus aclgrphBuildInitialize(std::map<AscendString, AscendString>& global_options) {
  (void)global_options;
  g_initialized = true;
  return GRAPH_SUCCESS;
}

void aclgrphBuildFinalize() { g_initialized = false; }

graphStatus aclgrphBuildModel(const Graph& graph, const std::map<AscendString, AscendString>& options,
                              ModelBufferData& model) {
  (void)options;
  if (!g_initialized) return fail(GRAPH_FAILED, "aclgrphBuildModel", "call aclgrphBuildInitialize first");
  auto bytes = lw::build_model(graph);
  if (!bytes.is_ok()) return fail("aclgrphBuildModel", bytes.status());
  return to_buffer(*bytes, model);
}

graphStatus aclgrphSaveModel(const char* output_file, const ModelBufferData& model) {
  return save("aclgrphSaveModel", output_file, model, false);
}

graphStatus aclgrphConvertToWeightRefreshableGraphs(const Graph& origin_graph, const std::vector<AscendString>& const_names,
                                                    WeightRefreshableGraphs& weight_refreshable_graphs) {
  std::vector<std::string> names;
  for (const auto& n : const_names) names.emplace_back(n.GetString());
  auto out = lw::convert_to_weight_refreshable(origin_graph, names);
  if (!out.is_ok()) return fail("aclgrphConvertToWeightRefreshableGraphs", out.status());
  weight_refreshable_graphs.infer_graph = std::move(out->infer);
  weight_refreshable_graphs.var_init_graph = std::move(out->init);
  weight_refreshable_graphs.var_update_graph = std::move(out->update);
  return GRAPH_SUCCESS;
}

graphStatus aclgrphBundleBuildModel(const std::vector<GraphWithOptions>& graph_and_options, ModelBufferData& model) {
  if (!g_initialized) return fail(GRAPH_FAILED, "aclgrphBundleBuildModel", "call aclgrphBuildInitialize first");
  if (graph_and_options.size() < 2)
    return fail(GRAPH_PARAM_INVALID, "aclgrphBundleBuildModel",
                "a bundle needs at least 2 graphs, got " + std::to_string(graph_and_options.size()));
  std::vector<Graph> graphs;
  for (const auto& g : graph_and_options) graphs.push_back(g.graph);
  auto bytes = lw::build_bundle(graphs);
  if (!bytes.is_ok()) return fail("aclgrphBundleBuildModel", bytes.status());
  return to_buffer(*bytes, model);
}

graphStatus aclgrphBundleSaveModel(const char* output_file, const ModelBufferData& model) {
  return save("aclgrphBundleSaveModel", output_file, model, true);
}

}  // namespace ge
