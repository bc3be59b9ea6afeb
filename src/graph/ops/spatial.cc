#include "graph/ops/spatial.h"

#include <algorithm>

namespace lw::ir {

namespace {
// Larger window attributes describe no real model; bounding them keeps every size below in
// int64 range (a kernel of 2^31 with a dilation of 2^31 still fits).
constexpr int64_t kMaxWindowAttr = int64_t{1} << 31;
// Padded input sizes above this would overflow the output-size arithmetic (span + s - 1).
constexpr int64_t kMaxSpatialSpan = int64_t{1} << 60;

template <typename... Parts>
Status node_error(const Node& node, const Parts&... parts) {
  return make_error(StatusCode::kParseModel, "node '", node.name, "' (", node.op, "): ", parts...);
}

Result<Dims> read_positive(const Node& node, const char* name, size_t rank, int64_t fallback) {
  auto it = node.attrs.find(name);
  if (it == node.attrs.end()) return Dims(rank, fallback);
  const auto* v = std::get_if<std::vector<int64_t>>(&it->second);
  if (!v) return node_error(node, "attribute '", name, "' must be ints");
  if (v->size() != rank) return node_error(node, "attribute '", name, "' has ", v->size(), " values, expected ", rank);
  for (int64_t x : *v) {
    if (x <= 0) return node_error(node, "attribute '", name, "' must be positive, got ", *v);
    if (x > kMaxWindowAttr) return node_error(node, "attribute '", name, "' value ", x, " exceeds ", kMaxWindowAttr);
  }
  return *v;
}
}  // namespace

Result<SpatialParams> read_spatial_params(const Node& node, size_t rank, const Dims* kernel_from_weight,
                                          bool allow_ceil_mode, bool allow_dilations) {
  SpatialParams p;
  p.rank = rank;
  if (rank == 0) return node_error(node, "input needs at least one spatial dimension");
  if (node.has_attr("kernel_shape") || !kernel_from_weight) {
    if (!node.has_attr("kernel_shape")) return node_error(node, "attribute 'kernel_shape' is required");
    LW_ASSIGN_OR_RETURN(p.kernel, read_positive(node, "kernel_shape", rank, 1));
    if (kernel_from_weight && *kernel_from_weight != p.kernel)
      return node_error(node, "kernel_shape ", p.kernel, " does not match the weight's spatial dims ", *kernel_from_weight);
  } else {
    p.kernel = *kernel_from_weight;
  }
  LW_ASSIGN_OR_RETURN(p.strides, read_positive(node, "strides", rank, 1));
  LW_ASSIGN_OR_RETURN(p.dilations, read_positive(node, "dilations", rank, 1));
  if (!allow_dilations)
    for (int64_t d : p.dilations)
      if (d != 1) return node_error(node, "dilations other than 1 are not supported");

  auto ap = node.attrs.find("auto_pad");
  std::string auto_pad = "NOTSET";
  if (ap != node.attrs.end()) {
    const auto* s = std::get_if<std::string>(&ap->second);
    if (!s) return node_error(node, "attribute 'auto_pad' must be a string");
    auto_pad = *s;
  }
  if (auto_pad == "NOTSET") p.auto_pad = AutoPad::kNotSet;
  else if (auto_pad == "SAME_UPPER") p.auto_pad = AutoPad::kSameUpper;
  else if (auto_pad == "SAME_LOWER") p.auto_pad = AutoPad::kSameLower;
  else if (auto_pad == "VALID") p.auto_pad = AutoPad::kValid;
  else return node_error(node, "attribute 'auto_pad' has unknown value '", auto_pad, "'");

  p.pads_begin.assign(rank, 0);
  p.pads_end.assign(rank, 0);
  auto pads_it = node.attrs.find("pads");
  if (pads_it != node.attrs.end()) {
    const auto* v = std::get_if<std::vector<int64_t>>(&pads_it->second);
    if (!v) return node_error(node, "attribute 'pads' must be ints");
    if (v->size() != 2 * rank) return node_error(node, "attribute 'pads' has ", v->size(), " values, expected ", 2 * rank);
    bool any = false;
    for (size_t i = 0; i < rank; ++i) {
      if ((*v)[i] < 0 || (*v)[i + rank] < 0) return node_error(node, "attribute 'pads' must not be negative, got ", *v);
      if ((*v)[i] > kMaxWindowAttr || (*v)[i + rank] > kMaxWindowAttr)
        return node_error(node, "attribute 'pads' values must not exceed ", kMaxWindowAttr, ", got ", *v);
      p.pads_begin[i] = (*v)[i];
      p.pads_end[i] = (*v)[i + rank];
      any = any || (*v)[i] != 0 || (*v)[i + rank] != 0;
    }
    if (any && p.auto_pad != AutoPad::kNotSet)
      return node_error(node, "attribute 'pads' cannot be used with auto_pad ", auto_pad);
  }
  int64_t ceil_mode = node.attr_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) return node_error(node, "attribute 'ceil_mode' must be 0 or 1");
  if (ceil_mode && !allow_ceil_mode) return node_error(node, "attribute 'ceil_mode' is not allowed");
  p.ceil_mode = ceil_mode == 1;
  return p;
}

Result<Dims> spatial_output_dims(const Node& node, SpatialParams& p, const Dims& in) {
  if (in.size() != p.rank) return node_error(node, "input has ", in.size(), " spatial dims, expected ", p.rank);
  Dims out(p.rank);
  for (size_t i = 0; i < p.rank; ++i) {
    int64_t k = (p.kernel[i] - 1) * p.dilations[i] + 1;  // effective window
    int64_t s = p.strides[i];
    if (in[i] < 0) {
      out[i] = kDynamicDim;
      continue;
    }
    if (in[i] > kMaxSpatialSpan) return node_error(node, "input dim ", in[i], " is too large in spatial dim ", i);
    switch (p.auto_pad) {
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        out[i] = (in[i] + s - 1) / s;
        int64_t total = std::max<int64_t>(0, (out[i] - 1) * s + k - in[i]);
        int64_t small = total / 2;
        p.pads_begin[i] = p.auto_pad == AutoPad::kSameUpper ? small : total - small;
        p.pads_end[i] = total - p.pads_begin[i];
        break;
      }
      case AutoPad::kValid:
      case AutoPad::kNotSet: {
        if (p.auto_pad == AutoPad::kValid) p.pads_begin[i] = p.pads_end[i] = 0;
        int64_t span = 0;
        if (__builtin_add_overflow(in[i], p.pads_begin[i] + p.pads_end[i], &span) || span > kMaxSpatialSpan)
          return node_error(node, "input dim ", in[i], " plus pads is too large in spatial dim ", i);
        span -= k;
        if (span < 0)
          return node_error(node, "window of size ", k, " is larger than the padded input (", in[i], " + pads ",
                            p.pads_begin[i], "+", p.pads_end[i], ") in spatial dim ", i);
        out[i] = (p.ceil_mode ? (span + s - 1) / s : span / s) + 1;
        if (p.ceil_mode && (out[i] - 1) * s >= in[i] + p.pads_begin[i]) --out[i];
        break;
      }
    }
  }
  return out;
}

}  // namespace lw::ir
