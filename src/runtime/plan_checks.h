// Checks and small helpers both plans (the CPU Plan and the CUDA plan) apply while preparing a
// graph, so the two backends refuse the same graphs with the same words.
#pragma once

#include "graph/ir.h"
#include "liveweight/status.h"
#include "runtime/variable_store.h"

namespace lw::rt {

// Prefixes an error with the node it came from, unless the kernel already named it.
Status with_node_context(const Status& status, const ir::Node& n);

bool has_zero_dim(const Dims& dims);

// Every value has static dims whose byte size does not overflow (a crafted file can declare
// dims whose products do; found by the bundle_reader fuzzer). kInputMismatch / the size error.
Status check_static_values(const ir::Graph& g);

// An Assign (Variable, value): unless it is skipped (skip_if_empty and an empty value), the value
// must have the Variable's dtype and dims. *skip tells whether it is skipped.
Status check_assign(const ir::Graph& g, const ir::Node& assign, bool* skip);

// The store slot of a Variable node's value; kParseModel when the bundle has no such Variable.
Result<int32_t> variable_slot(const ir::Graph& g, const ir::Node& variable, const VariableStore& store);

}  // namespace lw::rt
