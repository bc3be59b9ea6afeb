// Bundle build (CANN's aclgrphBundleBuildModel / aclgrphBuildModel): checks each graph, merges
// the Variables the graphs share and derives each graph's role.
#pragma once

#include <vector>

#include "graph/bundle_model.h"

namespace lw::compiler {

// >= 2 graphs; index = position in `graphs`. Variables with the same name are one Variable
// (dtype and dims must agree). Each graph is sorted, verified and type-inferred (an error lists
// every unsupported op). Roles: a graph with Assigns and inputs is an update graph, with
// Assigns and no inputs an init graph, otherwise an inference graph.
Result<ir::BundleModel> build_bundle(std::vector<ir::Graph> graphs);

// A plain (non-bundle) model of one graph.
Result<ir::BundleModel> build_plain_model(ir::Graph graph);

}  // namespace lw::compiler
