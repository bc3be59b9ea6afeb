// Index geometry shared by the schemas and the CPU kernels of Slice, Pad and Resize, so both
// agree on every output size, and permutation attributes as the fusion passes and kernels read
// them. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "graph/ir.h"

namespace lw::ir {

// One sliced axis: element j of the output along `axis` reads input index start + j * step.
struct SliceAxis {
  int64_t start = 0;
  int64_t step = 1;
  int64_t out = 0;  // output size along the axis
};

// Slice (opset 13) over static input dims: one SliceAxis per input dim (untouched dims get
// start 0, step 1, out = dim). `axes` and `steps` may be empty (defaults). Starts and ends are
// clamped as ONNX specifies; huge values (INT64_MAX) are fine. Errors name the node.
Result<std::vector<SliceAxis>> slice_geometry(const Node& node, const Dims& in, const Dims& starts, const Dims& ends,
                                              const Dims& axes, const Dims& steps);

// Pad: `pads` is [begin_0..begin_{r-1}, end_0..end_{r-1}] (negative crops). Output dims;
// errors when a dim would become negative or pads has the wrong length.
Result<Dims> pad_output_dims(const Node& node, const Dims& in, const Dims& pads);

// Resize (opset 11-17) output dims from `scales` (floor(in * scale)) or `sizes`; exactly one
// must be non-empty. Errors name the node.
Result<Dims> resize_output_dims(const Node& node, const Dims& in, const std::vector<float>& scales, const Dims& sizes);

// The permutation attribute `name` of `node` over `rank` axes: its value, or where the node has
// none the default (the axes reversed, as Transpose's perm, when `reversed_by_default`; else the
// identity). Empty when the value is not a permutation of 0..rank-1.
std::vector<int64_t> perm_attribute(const Node& node, const std::string& name, size_t rank, bool reversed_by_default);

}  // namespace lw::ir
