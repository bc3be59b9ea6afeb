// CANN's graph build API (ge_ir_build.h) over liveweight's graph type: code written for GE's
// aclgrph* calls compiles unchanged except for how it builds its ge::Graph (here an lw::Graph,
// built with the C++ builder or imported from ONNX).
//
// Failures return a graphStatus and leave a text for aclGetRecentErrMsg (and log it).
// Thread-safety: the functions share only the initialize/finalize flag.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "liveweight/export.h"
#include "liveweight/graph.h"

namespace ge {

using graphStatus = uint32_t;
constexpr graphStatus GRAPH_SUCCESS = 0;
constexpr graphStatus GRAPH_FAILED = 0xFFFFFFFF;
constexpr graphStatus GRAPH_PARAM_INVALID = 50331649;

// GE's string type for names and options. Owns a copy of its text.
class AscendString {
 public:
  AscendString() = default;
  AscendString(const char* name) : text_(name ? name : "") {}  // NOLINT: implicit, as in GE
  const char* GetString() const { return text_.c_str(); }
  size_t GetLength() const { return text_.size(); }
  bool operator<(const AscendString& o) const { return text_ < o.text_; }
  bool operator>(const AscendString& o) const { return text_ > o.text_; }
  bool operator==(const AscendString& o) const { return text_ == o.text_; }
  bool operator!=(const AscendString& o) const { return text_ != o.text_; }
  bool operator<=(const AscendString& o) const { return text_ <= o.text_; }
  bool operator>=(const AscendString& o) const { return text_ >= o.text_; }

 private:
  std::string text_;
};

using Graph = lw::Graph;

// Serialized model bytes; `data` owns them.
struct ModelBufferData {
  std::shared_ptr<uint8_t> data = nullptr;
  uint64_t length = 0;
};

struct GraphWithOptions {
  Graph graph;
  std::map<AscendString, AscendString> build_options;
};

struct WeightRefreshableGraphs {
  Graph infer_graph;
  Graph var_init_graph;
  Graph var_update_graph;
};

// Must precede aclgrphBuildModel / aclgrphBundleBuildModel. Options are accepted and ignored.
LW_API graphStatus aclgrphBuildInitialize(std::map<AscendString, AscendString>& global_options);
LW_API void aclgrphBuildFinalize();

// A plain model of one graph.
LW_API graphStatus aclgrphBuildModel(const Graph& graph, const std::map<AscendString, AscendString>& options,
                                     ModelBufferData& model);
// Writes `output_file` + ".om"; refuses a bundle (use aclgrphBundleSaveModel).
LW_API graphStatus aclgrphSaveModel(const char* output_file, const ModelBufferData& model);

// Converts the listed Consts into Variables shared by three graphs (see liveweight/build.h).
// GRAPH_PARAM_INVALID for an empty list, an unknown or non-Const name, or a duplicate.
LW_API graphStatus aclgrphConvertToWeightRefreshableGraphs(const Graph& origin_graph,
                                                           const std::vector<AscendString>& const_names,
                                                           WeightRefreshableGraphs& weight_refreshable_graphs);

// A bundle of >= 2 graphs (index = position); graphs naming the same Variable share it.
LW_API graphStatus aclgrphBundleBuildModel(const std::vector<GraphWithOptions>& graph_and_options,
                                           ModelBufferData& model);
// Writes `output_file` + ".om"; refuses a plain model (use aclgrphSaveModel).
LW_API graphStatus aclgrphBundleSaveModel(const char* output_file, const ModelBufferData& model);

}  // namespace ge
