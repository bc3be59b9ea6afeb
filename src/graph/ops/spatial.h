// Window geometry of Conv and the pooling ops: reads kernel_shape, strides, dilations, pads,
// auto_pad and ceil_mode, checks them, and computes output sizes and the resolved begin/end
// pads. Shared by the op schemas and the CPU kernels so both agree on every size.
// Pure functions; thread-safe.
#pragma once

#include "graph/ir.h"

namespace lw::ir {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

struct SpatialParams {
  size_t rank = 0;  // number of spatial dims
  Dims kernel, strides, dilations, pads_begin, pads_end;
  AutoPad auto_pad = AutoPad::kNotSet;
  bool ceil_mode = false;
};

// Reads and validates the attributes of `node` for `rank` spatial dims. `kernel_from_weight`
// (Conv) supplies the kernel size when the node has no kernel_shape attribute; pass null for
// pools, whose kernel_shape is required. Errors name the node and the attribute.
Result<SpatialParams> read_spatial_params(const Node& node, size_t rank, const Dims* kernel_from_weight,
                                          bool allow_ceil_mode, bool allow_dilations);

// Output spatial sizes for input spatial sizes `in` (a dim may be kDynamicDim, giving a
// dynamic output dim). Resolves SAME_* and VALID pads into p.pads_begin/pads_end where the
// input dim is static. Ceil mode drops a last window that would start past the padded
// begin + input (as PyTorch and newer ONNX do). Fails when the window is larger than the
// padded input.
Result<Dims> spatial_output_dims(const Node& node, SpatialParams& p, const Dims& in);

}  // namespace lw::ir
