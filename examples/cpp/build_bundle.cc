// Builds a weight-update bundle in C++ with the ge:: build API, as a CANN program would with
// aclgrphConvertToWeightRefreshableGraphs + aclgrphBundleBuildModel + aclgrphBundleSaveModel.
// The graph: y = relu(x @ W + b), x [2,3], W [3,4], b [4].
//
//   build_bundle OUT      (writes OUT.om)
#include <cstdio>
#include <map>
#include <vector>

#include "ge/ge_ir_build.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT (writes OUT.om)\n", argv[0]);
    return 2;
  }
  std::vector<float> w(12), b(4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(i) - 0.5f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.25f * static_cast<float>(i);

  ge::Graph graph("dense");
  lw::Tensor x = graph.add_input("x", lw::DType::kFloat32, {2, 3});
  lw::Tensor wt = graph.add_constant("W", lw::DType::kFloat32, {3, 4}, w.data(), w.size() * sizeof(float));
  lw::Tensor bt = graph.add_constant("b", lw::DType::kFloat32, {4}, b.data(), b.size() * sizeof(float));
  lw::Tensor mm = graph.add_op("MatMul", {x, wt})[0];
  lw::Tensor sum = graph.add_op("Add", {mm, bt})[0];
  lw::Tensor y = graph.add_op("Relu", {sum}, {}, 1, "y")[0];
  graph.set_outputs({y});

  std::map<ge::AscendString, ge::AscendString> options;
  if (ge::aclgrphBuildInitialize(options) != ge::GRAPH_SUCCESS) return 1;
  ge::WeightRefreshableGraphs graphs;
  if (ge::aclgrphConvertToWeightRefreshableGraphs(graph, {"W", "b"}, graphs) != ge::GRAPH_SUCCESS) {
    std::fprintf(stderr, "conversion failed\n");
    return 1;
  }
  std::vector<ge::GraphWithOptions> list = {{graphs.infer_graph, {}}, {graphs.var_init_graph, {}},
                                            {graphs.var_update_graph, {}}};
  ge::ModelBufferData model;
  if (ge::aclgrphBundleBuildModel(list, model) != ge::GRAPH_SUCCESS) {
    std::fprintf(stderr, "bundle build failed\n");
    return 1;
  }
  if (ge::aclgrphBundleSaveModel(argv[1], model) != ge::GRAPH_SUCCESS) {
    std::fprintf(stderr, "save failed\n");
    return 1;
  }
  ge::aclgrphBuildFinalize();
  std::printf("wrote %s.om (%llu bytes)\n", argv[1], static_cast<unsigned long long>(model.length));
  return 0;
}
