// The native build API: conversion, bundle build and the ONNX-to-bundle pipeline of `lw build`.
#include "liveweight/build.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "compiler/bundle_builder.h"
#include "compiler/refreshable.h"
#include "format/bundle_io.h"
#include "frontends/onnx/onnx_importer.h"
#include "graph/ir.h"

namespace lw {

namespace {
Graph wrap(ir::Graph g) { return Graph(std::make_shared<ir::Graph>(std::move(g))); }
}  // namespace

Result<RefreshableGraphs> convert_to_weight_refreshable(const Graph& graph, const std::vector<std::string>& const_names) {
  LW_RETURN_IF_ERROR(graph.validate());
  LW_ASSIGN_OR_RETURN(compiler::RefreshableGraphs out, compiler::convert_to_weight_refreshable(graph.ir(), const_names));
  return RefreshableGraphs{wrap(std::move(out.infer)), wrap(std::move(out.init)), wrap(std::move(out.update))};
}

std::vector<std::string> weight_names(const Graph& graph) { return compiler::weight_const_names(graph.ir()); }

Result<std::vector<uint8_t>> build_bundle(const std::vector<Graph>& graphs) {
  std::vector<ir::Graph> irs;
  for (const Graph& g : graphs) {
    LW_RETURN_IF_ERROR(g.validate());
    irs.push_back(g.ir());
  }
  LW_ASSIGN_OR_RETURN(ir::BundleModel model, compiler::build_bundle(std::move(irs)));
  return format::write_bundle(model);
}

Result<std::vector<uint8_t>> build_model(const Graph& graph) {
  LW_RETURN_IF_ERROR(graph.validate());
  LW_ASSIGN_OR_RETURN(ir::BundleModel model, compiler::build_plain_model(graph.ir()));
  return format::write_bundle(model);
}

Status write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return make_error(StatusCode::kWriteFile, "cannot open '", path, "' for writing: ", std::strerror(errno));
  size_t written = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
  int close_rc = std::fclose(f);
  if (written != bytes.size() || close_rc != 0)
    return make_error(StatusCode::kWriteFile, "cannot write ", bytes.size(), " bytes to '", path, "': ", std::strerror(errno));
  return Status::ok();
}

Status build_bundle_from_onnx(const std::string& onnx_path, const std::string& out_path, const OnnxBuildOptions& options) {
  onnx_import::ImportOptions import_options;
  for (const auto& [input, dims] : options.input_shapes) import_options.input_shapes[input] = dims;
  LW_ASSIGN_OR_RETURN(ir::Graph imported, onnx_import::import_onnx_file(onnx_path, import_options));
  Graph graph = wrap(std::move(imported));
  std::vector<std::string> names = options.refresh;
  if (names.empty()) {
    names = weight_names(graph);
    if (names.empty())
      return make_error(StatusCode::kInvalidArgument, "'", onnx_path, "' has no floating-point weights to make refreshable");
  } else {
    std::vector<std::string> weights = compiler::weight_const_names(graph.ir(), /*include_scalars=*/true);
    std::set<std::string> weight_set(weights.begin(), weights.end());
    for (const std::string& n : names)
      if (!weight_set.count(n) && graph.ir().find_value(n) != ir::kNoValue &&
          graph.ir().nodes[static_cast<size_t>(graph.ir().value(graph.ir().find_value(n)).producer)].op == ir::kOpConst)
        return make_error(StatusCode::kInvalidArgument, "initializer '", n,
                          "' is not a weight (it only feeds shape inputs or is not floating-point)");
  }
  LW_ASSIGN_OR_RETURN(RefreshableGraphs graphs, convert_to_weight_refreshable(graph, names));
  std::vector<Graph> list;
  list.push_back(std::move(graphs.infer));
  if (options.init) list.push_back(std::move(graphs.init));
  list.push_back(std::move(graphs.update));
  LW_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, build_bundle(list));
  return write_file(out_path, bytes);
}

}  // namespace lw
