// BundleModel: what a bundle file holds, in memory. The compiler produces it, the format
// layer writes and reads it, the runtime prepares it. A plain (non-bundle) model is the same
// structure with is_bundle = false and exactly one graph.
#pragma once

#include <string>
#include <vector>

#include "graph/ir.h"

namespace lw::ir {

// Values are stored in the file; never renumber.
enum class GraphRole : int32_t { kInference = 0, kWeightInit = 1, kWeightUpdate = 2, kOther = 3 };
const char* graph_role_name(GraphRole role);

struct GraphEntry {
  GraphRole role = GraphRole::kOther;
  Graph graph;
};

// A weight shared by the graphs that name it.
struct VariableDesc {
  std::string name;      // "<initializer>_var" for converted weights
  DType dtype = DType::kFloat32;
  Dims dims;
  std::string source;    // the Const/initializer it came from; "" when built by hand
  int32_t update_input = -1;  // index of the update graph's input that refreshes it, or -1
};

struct BundleModel {
  bool is_bundle = true;
  std::string producer = "liveweight";
  std::vector<GraphEntry> graphs;       // index = position in the build list
  std::vector<VariableDesc> variables;  // every Variable named by any graph, once
  // The version (Session::version()) of the session whose weights this file's init graph holds,
  // when Session::save wrote it; 0 for a bundle as built (and in files older than the field).
  uint64_t weights_version = 0;
};

// Checks the cross-graph rules: each graph verifies, every Variable node of every graph has
// one VariableDesc with the same dtype and dims, a bundle has >= 2 graphs, a plain model 1.
Status verify_bundle_model(const BundleModel& model);

}  // namespace lw::ir
