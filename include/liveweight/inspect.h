// Reading what a bundle or model file holds without loading it for execution (`lw inspect`).
// Thread-safe; the returned summary owns all its data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "liveweight/dtype.h"
#include "liveweight/export.h"
#include "liveweight/status.h"

namespace lw {

struct TensorSummary {
  std::string name;
  DType dtype = DType::kUndefined;
  bool rank_known = true;
  std::vector<int64_t> dims;  // -1 for a dynamic dim
};

struct GraphSummary {
  size_t index = 0;
  std::string role;  // "inference", "weight-init", "weight-update", "other"
  std::string name;
  size_t node_count = 0;
  std::vector<TensorSummary> inputs;
  std::vector<TensorSummary> outputs;
};

struct VariableSummary {
  std::string name;
  std::string source;  // the initializer it came from ("" when built by hand)
  DType dtype = DType::kUndefined;
  std::vector<int64_t> dims;
  int32_t update_input = -1;  // the update graph's input that refreshes it, or -1
  uint64_t bytes = 0;
};

struct ModelSummary {
  bool is_bundle = true;
  std::string producer;
  uint64_t file_bytes = 0;
  // Session::version() of the session whose weights the init graph holds (Session::save wrote
  // the file); 0 for a bundle as built.
  uint64_t weights_version = 0;
  std::vector<GraphSummary> graphs;
  std::vector<VariableSummary> variables;
};

// Reads and fully validates a model file (every checksum included).
LW_API Result<ModelSummary> inspect_model_file(const std::string& path);

// The summary as one JSON object (what `lw inspect --json` prints).
LW_API std::string summary_to_json(const ModelSummary& summary);

}  // namespace lw
