// The output dims of each model's most recent successful aclmdlExecute, which
// aclmdlGetCurOutputDims reports. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/shape.h"

namespace lw::acl {

void record_output_dims(uint32_t model_id, const std::vector<Dims>& dims);
std::optional<std::vector<Dims>> last_output_dims(uint32_t model_id);
void forget_output_dims(uint32_t model_id);
void forget_all_output_dims();

}  // namespace lw::acl
