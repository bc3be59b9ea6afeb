#include "frontends/onnx/onnx_importer.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <vector>

#include "frontends/onnx/onnx_graph_builder.h"
#include "frontends/onnx/onnx_legacy.h"
#include "graph/op_registry.h"
#include "frontends/onnx/onnx_proto.h"

namespace lw::onnx_import {

namespace {

// Every op without a schema, each with the first node that uses it, in one error.
Status check_supported_ops(const ir::Graph& graph) {
  std::vector<std::pair<std::string, std::string>> missing;  // op, first node
  for (const ir::Node& n : graph.nodes) {
    if (n.op == ir::kOpData || n.op == ir::kOpConst || n.op == ir::kOpVariable || n.op == ir::kOpAssign) continue;
    if (ir::find_op_schema(n.op)) continue;
    bool seen = false;
    for (const auto& m : missing) seen = seen || m.first == n.op;
    if (!seen) missing.emplace_back(n.op, n.name);
  }
  if (missing.empty()) return Status::ok();
  std::string list;
  for (const auto& [op, node] : missing) list += str_cat(list.empty() ? "" : ", ", op, " (node '", node, "')");
  return make_error(StatusCode::kOpNotFound, "graph '", graph.name, "' uses unsupported operators: ", list);
}

Result<ir::Graph> import_model(const onnx::ModelProto& model, const ImportOptions& options) {
  LW_ASSIGN_OR_RETURN(BuiltGraph built, build_graph(model, options));
  ir::Graph& graph = built.graph;
  LW_RETURN_IF_ERROR(check_supported_ops(graph));
  LW_RETURN_IF_ERROR(ir::infer_graph_types(graph));
  if (!built.pending_rewrites.empty()) {
    LW_RETURN_IF_ERROR(finish_legacy_rewrites(graph, built.pending_rewrites));
    LW_RETURN_IF_ERROR(sort_graph(graph));
    LW_RETURN_IF_ERROR(graph.verify());
    LW_RETURN_IF_ERROR(ir::infer_graph_types(graph));
  }
  return std::move(built.graph);
}

Result<ir::Graph> import_bytes_unguarded(const void* data, size_t size, const ImportOptions& options) {
  if (data == nullptr && size != 0)
    return make_error(StatusCode::kInvalidArgument, "ONNX model bytes: data is NULL but size is ", size);
  if (size > static_cast<size_t>(INT_MAX))
    return make_error(StatusCode::kFeatureUnsupported, "ONNX model of ", size,
                      " bytes is over protobuf's 2 GiB limit; keep large weights as external data (not supported yet)");
  onnx::ModelProto model;
  if (!model.ParseFromArray(data, static_cast<int>(size)))
    return make_error(StatusCode::kParseModel, "the ", size, " bytes are not an ONNX ModelProto (protobuf parsing failed)");
  return import_model(model, options);
}

}  // namespace

Result<ir::Graph> import_onnx_bytes(const void* data, size_t size, const ImportOptions& options) {
  // Protobuf and the containers can throw std::bad_alloc on hostile sizes; nothing may escape.
  try {
    return import_bytes_unguarded(data, size, options);
  } catch (const std::bad_alloc&) {
    return make_error(StatusCode::kOutOfMemory, "out of memory while importing an ONNX model of ", size, " bytes");
  } catch (const std::exception& e) {
    return make_error(StatusCode::kInternal, "ONNX import failed: ", e.what());
  }
}

Result<ir::Graph> import_onnx_file(const std::string& path, const ImportOptions& options) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return make_error(StatusCode::kInvalidFile, "cannot open ONNX file '", path, "': ", std::strerror(errno));
  std::vector<uint8_t> bytes;
  try {
    uint8_t chunk[1 << 16];
    size_t got;
    while ((got = std::fread(chunk, 1, sizeof(chunk), f.get())) > 0) {
      bytes.insert(bytes.end(), chunk, chunk + got);
      if (bytes.size() > static_cast<size_t>(INT_MAX))
        return make_error(StatusCode::kFeatureUnsupported, "ONNX file '", path,
                          "' is over protobuf's 2 GiB limit; external data is not supported yet");
    }
  } catch (const std::bad_alloc&) {
    return make_error(StatusCode::kOutOfMemory, "out of memory reading ONNX file '", path, "'");
  }
  if (std::ferror(f.get()))
    return make_error(StatusCode::kInvalidFile, "cannot read ONNX file '", path, "': ", std::strerror(errno));
  auto graph = import_onnx_bytes(bytes.data(), bytes.size(), options);
  if (!graph.is_ok()) return graph.status().with_context(str_cat("ONNX file '", path, "': "));
  return graph;
}

}  // namespace lw::onnx_import
